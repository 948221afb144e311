export * from './port.ts';
export { SqliteConfigStore } from './embedded/sqlite-config-store.ts';
export { ANY_ORIGIN, MAX_ALLOWED_ORIGINS, MAX_SOURCE_NAME_LENGTH, assertValidSource, originProblem, sourceIdProblem, sourceIdSchema, sourceProblems } from './source-rules.ts';
