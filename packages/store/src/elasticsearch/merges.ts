import DataLoader from 'dataloader';
import { SluiceError } from '@sluice/core';
import { mergeListStart, storedMerge } from '../merge-list.ts';
import type { MergeListQuery, ProfileMerge, ProfileMerges } from '../port.ts';
import type { ElasticContext } from './connection.ts';
import { isErrorType, isNotFound, request, storeError } from './errors.ts';
import { assertComplete } from './reader.ts';

/** Most ids of one `_mget` (a larger batch of lookups is split). */
const LOOKUPS_PER_MGET = 1000;
/** Lookup `_mget`s in flight at once; further lookups gather into the next one meanwhile. */
const MGETS_IN_FLIGHT = 1;
/** Longest a gathering batch waits for an `_mget` to answer before it leaves anyway, ms: one slow answer holds no lookup back longer. */
const GATHER_MAX_MS = 5;

/**
 * Profile merges in their own index, one document per merged profile, `_id` = its id. A
 * merge is written with `op_type: create`, so the first merge of a profile stays whichever
 * replica races it; reads by id are real-time (no refresh needed).
 *
 * `getMerge` is on the API's hot path (once per profile the cache does not know), and each
 * `_mget` costs the API a TLS write and an HTTP exchange (a fifth of its CPU at 1,500
 * requests/s with mostly unknown profiles). So lookups are batched as a busy connection
 * batches writes: while an `_mget` is out, new lookups gather and leave together when it
 * answers (or after GATHER_MAX_MS); otherwise a lookup leaves at the end of its tick with
 * that tick's others. An idle replica adds no wait; a busy one sends fewer, fuller requests
 * (measured there with one API replica: 360 `_mget`s a second of 2.5 ids; with two allowed
 * out, 470 of 1.8). While an `_mget` hangs, each later
 * batch waits the full GATHER_MAX_MS before it leaves on its own. A profile never merged (the
 * usual answer) costs no 404 error on either side.
 */
export class ElasticMerges implements ProfileMerges {
  private readonly context: ElasticContext;
  private readonly lookups: DataLoader<string, ProfileMerge | undefined>;
  private mgetsInFlight = 0;
  /** Batches waiting for an `_mget` to answer: their dispatch functions, oldest first. */
  private readonly gathering: (() => void)[] = [];

  constructor(context: ElasticContext) {
    this.context = context;
    // No memo: every lookup asks the store (the profile cache in front of it memoises).
    this.lookups = new DataLoader<string, ProfileMerge | undefined>((ids) => this.readMany(ids), { cache: false, maxBatchSize: LOOKUPS_PER_MGET, batchScheduleFn: (dispatch) => this.schedule(dispatch) });
  }

  /** DataLoader's batch timing: at the end of the tick while an `_mget` slot is free, else when one frees or GATHER_MAX_MS pass. */
  private schedule(dispatch: () => void): void {
    if (this.mgetsInFlight + this.gathering.length < MGETS_IN_FLIGHT) {
      // DataLoader's own timing: after the promise jobs of this tick, so lookups they ask for join.
      void Promise.resolve().then(() => process.nextTick(dispatch));
      return;
    }
    const leave = () => {
      clearTimeout(timer);
      const at = this.gathering.indexOf(leave);
      if (at === -1) return;
      this.gathering.splice(at, 1);
      dispatch();
    };
    const timer = setTimeout(leave, GATHER_MAX_MS);
    this.gathering.push(leave);
  }

  async recordMerge(given: ProfileMerge): Promise<ProfileMerge> {
    const { client, names } = this.context;
    const merge = storedMerge(given);
    try {
      await client.create({ index: names.profileMerges, id: merge.from, document: merge, refresh: this.context.refresh });
      return merge;
    } catch (error) {
      if (!isErrorType(error, 'version_conflict_engine_exception')) throw storeError(error);
      return (await this.getMerge(merge.from)) ?? merge;
    }
  }

  async removeMerge(from: string, into: string): Promise<void> {
    const { client, names } = this.context;
    const current = await this.read(from);
    if (current?.merge.into !== into) return;
    try {
      await client.delete({ index: names.profileMerges, id: from, if_seq_no: current.seqNo, if_primary_term: current.primaryTerm, refresh: this.context.refresh });
    } catch (error) {
      // Gone or changed meanwhile: nothing of ours to remove.
      if (isNotFound(error) || isErrorType(error, 'version_conflict_engine_exception')) return;
      throw storeError(error);
    }
  }

  async getMerge(id: string): Promise<ProfileMerge | undefined> {
    return this.lookups.load(id);
  }

  /** A search on `into` (sorted by `from`): sees merges recorded up to one refresh ago. */
  async getMergesInto(into: string, limit: number): Promise<ProfileMerge[]> {
    const { client, names } = this.context;
    const response = await request(() => client.search<ProfileMerge>({ index: names.profileMerges, query: { term: { into } }, sort: [{ from: { order: 'asc' } }], size: limit, track_total_hits: false }));
    assertComplete(response);
    return response.hits.hits.flatMap((hit) => (hit._source === undefined ? [] : [hit._source]));
  }

  /**
   * A search sorted on (`mergedAt`, `from`), paged with `search_after`: sees merges recorded
   * up to one refresh ago. Never a partial page (a shard that times out fails the listing).
   */
  async listMerges(query: MergeListQuery): Promise<ProfileMerge[]> {
    const { afterTime, afterFrom, limit } = mergeListStart(query);
    const { client, names } = this.context;
    const afterMs = afterTime === '' ? undefined : Date.parse(afterTime);
    const response = await request(() =>
      client.search<ProfileMerge>({
        index: names.profileMerges,
        query: afterMs === undefined ? { match_all: {} } : { range: { mergedAt: { gte: afterMs, format: 'epoch_millis' } } },
        sort: [{ mergedAt: { order: 'asc' } }, { from: { order: 'asc' } }],
        size: limit,
        track_total_hits: false,
        allow_partial_search_results: false,
        ...(afterMs === undefined ? {} : { search_after: [afterMs, afterFrom] }),
      }),
    );
    assertComplete(response);
    if (response.timed_out) throw new SluiceError('STORE_UNAVAILABLE', 'Elasticsearch: the listing of profile merges timed out');
    return response.hits.hits.flatMap((hit) => (hit._source === undefined ? [] : [hit._source]));
  }

  /** The merges index's own `refresh_interval` (set, or Elasticsearch's default), not the configured one: an operator may have changed it since `init`. */
  async mergesListedWithin(): Promise<number> {
    const { client, names } = this.context;
    const response = await request(() => client.indices.getSettings({ index: names.profileMerges, name: 'index.refresh_interval', include_defaults: true, flat_settings: true }));
    const index = Object.values(response)[0];
    // flat_settings: the keys are dotted paths.
    const interval: unknown = index?.settings?.['index.refresh_interval'] ?? index?.defaults?.['index.refresh_interval'];
    return typeof interval === 'string' ? timeValueMs(interval) : Number.POSITIVE_INFINITY;
  }

  /** One `_mget` for a batch of lookups: per id, its merge, undefined (never merged), or its item's failure. */
  private async readMany(ids: readonly string[]): Promise<(ProfileMerge | undefined | Error)[]> {
    const { client, names } = this.context;
    this.mgetsInFlight += 1;
    let response;
    try {
      // Tens of ids at most: gzip (ELASTIC_COMPRESSION, for bulk writes) would cost more than it saves.
      response = await request(() => client.mget<ProfileMerge>({ index: names.profileMerges, ids: [...ids] }, { compression: false }));
    } finally {
      this.mgetsInFlight -= 1;
      this.gathering[0]?.();
    }
    return response.docs.map((doc) => {
      // A shard of the index that did not answer (or the index gone): the store's state.
      if ('error' in doc) return new SluiceError('STORE_UNAVAILABLE', `Elasticsearch: ${doc.error.type}: ${doc.error.reason ?? ''}`.slice(0, 1000));
      return doc.found ? doc._source : undefined;
    });
  }

  private async read(id: string): Promise<{ merge: ProfileMerge; seqNo: number; primaryTerm: number } | undefined> {
    try {
      const response = await this.context.client.get<ProfileMerge>({ index: this.context.names.profileMerges, id });
      return response._source === undefined ? undefined : { merge: response._source, seqNo: response._seq_no ?? 0, primaryTerm: response._primary_term ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storeError(error);
    }
  }
}

/** An Elasticsearch time value (`-1`, `0`, or a whole number with a unit from nanos to d) in ms; Infinity for `-1` and anything else. */
function timeValueMs(value: string): number {
  if (value === '0') return 0;
  const match = /^(\d+)(nanos|micros|ms|s|m|h|d)$/.exec(value);
  if (match === null) return Number.POSITIVE_INFINITY;
  const unit = { nanos: 1e-6, micros: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'nanos' | 'micros' | 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
