import type { MergeListQuery, ProfileMerge } from './port.ts';

/** Most merges one `listMerges` page returns (Elasticsearch's default `max_result_window`). */
export const MERGE_LIST_MAX = 10_000;

/** A time as the stores keep it (`toISOString()`'s form, so text order is time order); RangeError when it is not a time. */
export function storedTime(time: string): string {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${JSON.stringify(time)}`);
  return new Date(ms).toISOString();
}

/** `merge` with its time as the stores keep it. */
export function storedMerge(merge: ProfileMerge): ProfileMerge {
  return { from: merge.from, into: merge.into, mergedAt: storedTime(merge.mergedAt) };
}

/**
 * Where a `listMerges` page starts: after the position (time, profile id), times as the
 * stores keep them — `after` when it is past `since`, else just before `since`'s first merge.
 * RangeError outside the query's contract (a programming error, not a request's).
 */
export function mergeListStart(query: MergeListQuery): { afterTime: string; afterFrom: string; limit: number } {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MERGE_LIST_MAX) throw new RangeError(`listMerges: limit must be 1..${String(MERGE_LIST_MAX)}, got ${String(query.limit)}`);
  const since = query.since === undefined ? '' : storedTime(query.since);
  const after = query.after === undefined ? undefined : { time: storedTime(query.after.mergedAt), from: query.after.from };
  // Every profile id is longer than '' (ids are never blank), so (since, '') precedes since's first merge.
  if (after === undefined || after.time < since) return { afterTime: since, afterFrom: '', limit: query.limit };
  return { afterTime: after.time, afterFrom: after.from, limit: query.limit };
}
