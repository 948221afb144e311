export * from './port.ts';
export { encodeCursor, decodeCursor, type PagePosition } from './cursor.ts';
export { SqliteEventStore, type SqliteStoreOptions } from './embedded/sqlite-store.ts';
export { ElasticStore, classify, slmPolicy, slmSchedule, type ElasticStoreOptions, type SnapshotSettings } from './elasticsearch/elastic-store.ts';
export { ilmPolicy, planLifecycle, nextIndexName, esTime, esBytes, rolloverConditions, TIER_PREFERENCE, type LifecycleSettings, type LifecycleAction, type EventsIndexState } from './elasticsearch/lifecycle.ts';
