export * from './port.ts';
export { SqliteConfigStore } from './embedded/sqlite-config-store.ts';
export { MysqlConfigStore, classifyMysqlError } from './mysql/mysql-config-store.ts';
export { TunedMysqlPool, type MysqlPoolSettings, type PoolObserver, type PoolStats } from './mysql/tuned-pool.ts';
export { registerPoolMetrics } from './mysql/pool-metrics.ts';
export { ANY_ORIGIN, MAX_ALLOWED_ORIGINS, MAX_SOURCE_NAME_LENGTH, MAX_SOURCE_RATE_LIMIT, assertValidSource, originProblem, sourceIdProblem, sourceIdSchema, sourceProblems } from './source-rules.ts';
export { INVALID_EVENT_POLICIES, MAX_EVENT_TYPE_DESCRIPTION_LENGTH, MAX_EVENT_TYPE_NAME_LENGTH, assertValidEventType, eventTypeProblems } from './event-type-rules.ts';
export { MAX_EVENT_SCHEMA_BYTES, compileEventSchema, type EventPropertiesCheck, type SchemaViolation } from './event-schema.ts';
