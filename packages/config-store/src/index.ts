export * from './port.ts';
export { SqliteConfigStore } from './embedded/sqlite-config-store.ts';
