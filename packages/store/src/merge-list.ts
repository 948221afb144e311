import type { MergeListQuery } from './port.ts';

/** Most merges one `listMerges` page returns (Elasticsearch's default `max_result_window`). */
export const MERGE_LIST_MAX = 10_000;

/** `listMerges`' query with its times as milliseconds since the epoch; RangeError outside its contract (a programming error, not a request's). */
export function checkMergeListQuery(query: MergeListQuery): { sinceMs?: number; after?: { mergedAtMs: number; from: string }; limit: number } {
  const sinceMs = query.since === undefined ? undefined : Date.parse(query.since);
  const afterMs = query.after === undefined ? undefined : Date.parse(query.after.mergedAt);
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MERGE_LIST_MAX || Number.isNaN(sinceMs) || Number.isNaN(afterMs)) {
    throw new RangeError(`listMerges: limit must be 1..${String(MERGE_LIST_MAX)} and times ISO-8601; got ${JSON.stringify(query)}`);
  }
  return { ...(sinceMs === undefined ? {} : { sinceMs }), ...(query.after === undefined || afterMs === undefined ? {} : { after: { mergedAtMs: afterMs, from: query.after.from } }), limit: query.limit };
}
