export * from './port.ts';
export { encodeCursor, decodeCursor, type PagePosition } from './cursor.ts';
export { SqliteEventStore, type SqliteStoreOptions } from './embedded/sqlite-store.ts';
export { ElasticStore, classify, type ElasticStoreOptions } from './elasticsearch/elastic-store.ts';
