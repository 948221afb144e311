import type { ContextValuesQuery } from './port.ts';

/** Longest context value `contextValues` lists: the `ignore_above` of Elasticsearch's flattened `context` field. */
export const CONTEXT_VALUE_MAX_LENGTH = 1024;

/** Throws (a programming error, not a request's) when `contextValues` is asked outside its contract. */
export function assertContextValuesQuery(query: ContextValuesQuery): void {
  const keysOk = query.path.length > 0 && query.path.every((key) => /^[A-Za-z0-9_]+$/.test(key));
  const sizesOk = query.profileIds.length >= 1 && query.profileIds.length <= 1000 && Number.isInteger(query.limit) && query.limit >= 1 && query.limit <= 1000;
  if (!keysOk || !sizesOk) throw new RangeError(`contextValues: path keys must match [A-Za-z0-9_]+ and 1..1000 profiles and values be asked; got ${JSON.stringify({ path: query.path, profiles: query.profileIds.length, limit: query.limit })}`);
}
