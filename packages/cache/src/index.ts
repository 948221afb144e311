export * from './port.ts';
export { LruProfileCache } from './embedded/lru-cache.ts';
