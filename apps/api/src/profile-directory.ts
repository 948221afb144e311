import { SluiceError, withTimeout } from '@sluice/core';
import type { ProfileCache } from '@sluice/cache';
import type { Logger } from '@sluice/observability';
import type { ProfileMerge, ProfileMerges } from '@sluice/store';
import type { KnownMerges } from './known-merges.ts';

export interface ProfileDirectoryOptions {
  /** KEEP_PROFILE_IN_CACHE_FOR: how long the cache keeps what it learnt of a profile, s. */
  readonly ttlSeconds: number;
  /** Longest wait for the store when the cache does not know a profile, ms. */
  readonly lookupTimeoutMs: number;
  /** Told of each store lookup the tracking path waited for: its duration in seconds and how it ended. */
  readonly onLookup?: (seconds: number, outcome: 'merged' | 'not_merged' | 'timeout' | 'error') => void;
  /** The profiles this replica knows were never merged (no store lookup for them); absent: every profile the cache does not know is looked up. */
  readonly knownMerges?: Pick<KnownMerges, 'neverMerged' | 'add'>;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
}

/** Longest chain of merges followed (a merged profile's survivor merged in turn, …). */
const MAX_HOPS = 8;
/** The cache's mark for "the store says this profile was not merged". */
const NOT_MERGED = '=';
/**
 * After a store lookup failed, or timed out with no lookup answered since it was sent (a
 * store down or hung, not one slow answer among others), how long lookups are skipped
 * (taken as "not merged", uncached), ms.
 */
const STORE_BACKOFF_MS = 1000;

const profileKey = (id: string) => `profile:${id}`;

class LookupTimeout extends Error {
  constructor(ms: number) {
    super(`the store did not answer a profile lookup within ${String(ms)} ms`);
  }
}

/** Where a chain of merges ends, and whether it ended within MAX_HOPS. */
interface ChainEnd {
  readonly id: string;
  readonly complete: boolean;
}

/**
 * Where profiles live after merges. The store is the source of truth (ProfileMerges); the
 * cache holds, per profile, what the store said — its survivor, or that it was not merged —
 * for KEEP_PROFILE_IN_CACHE_FOR, so the usual request costs one cache read, and the store is
 * asked once per profile per that time (per cluster, with a shared cache). With
 * `knownMerges`, a profile the cache does not know and the replica knows was never merged
 * (most new visitors) costs neither a lookup nor a cache write.
 *
 * Cache writes never hide a merge: a lookup's answer is stored only where the key is empty
 * (`claim`), a merge overwrites (`set`), and a merge backed out deletes its entry.
 */
export class ProfileDirectory {
  private readonly cache: ProfileCache;
  private readonly merges: ProfileMerges;
  private readonly options: ProfileDirectoryOptions;
  /** Until when store lookups are skipped (ms since the epoch; see STORE_BACKOFF_MS). */
  private storeFailingUntil = 0;
  /** When the store last answered a lookup (ms since the epoch). */
  private storeAnsweredAt = 0;

  constructor(cache: ProfileCache, merges: ProfileMerges, options: ProfileDirectoryOptions) {
    this.cache = cache;
    this.merges = merges;
    this.options = options;
  }

  /**
   * The profile `id` resolves to: itself, or the profile it was merged into, followed
   * through at most MAX_HOPS merges (a cycle, which only a race of merges could leave, stops
   * at the last profile before it). Throws only when the cache fails (identity then
   * degrades); a store that fails or is slow counts as "not merged", uncached, and is not
   * asked again for STORE_BACKOFF_MS.
   */
  async resolve(id: string): Promise<string> {
    return (await follow(id, (current) => this.next(current))).id;
  }

  /**
   * Merges `from` into `into` (into the profile `into` itself resolves to): records it in
   * the store, then in the cache. Idempotent. CONFLICT when `from` was merged into another
   * profile already, when the merge would close a cycle (`into` resolves to `from`), or when
   * `into`'s chain of merges is longer than MAX_HOPS; VALIDATION_FAILED when both are one
   * profile; CACHE_UNAVAILABLE when the store took the merge and the cache did not (send it
   * again).
   */
  async merge(from: string, into: string): Promise<ProfileMerge> {
    if (from === into) throw new SluiceError('VALIDATION_FAILED', 'a profile cannot be merged into itself', { details: [{ path: '/into', message: 'must differ from the merged profile' }] });
    const survivor = await this.endInStore(into);
    if (survivor === from) throw new SluiceError('CONFLICT', `profile ${into} was merged into ${from}: merging ${from} into it would make a cycle`);
    // Known here before it is recorded: a request of this replica meanwhile looks it up.
    this.options.knownMerges?.add(from);
    const recorded = await this.merges.recordMerge({ from, into: survivor, mergedAt: new Date().toISOString() });
    if (recorded.into !== survivor && (await this.endInStore(recorded.into)) !== survivor) {
      throw new SluiceError('CONFLICT', `profile ${from} was merged into ${recorded.into} already; a profile is merged once`);
    }
    // Another replica may have merged the survivor into `from` meanwhile: back ours out.
    const end = await follow(survivor, (current) => this.inStore(current));
    if (end.id === from || !end.complete) {
      await this.merges.removeMerge(from, survivor);
      await this.cache.delete(profileKey(from)).catch(() => undefined);
      throw new SluiceError('CONFLICT', `profile ${survivor} was merged into ${from} at the same time: merge again`);
    }
    try {
      await this.cache.set(profileKey(from), recorded.into, this.options.ttlSeconds);
    } catch (error) {
      throw new SluiceError('CACHE_UNAVAILABLE', `the merge of ${from} into ${recorded.into} is recorded, but the profile cache did not take it: send it again`, { cause: error });
    }
    return recorded;
  }

  /** One hop: the cache's entry, else the store's answer (then cached where nothing else was). */
  private async next(id: string): Promise<string | undefined> {
    const cached = await this.cache.get(profileKey(id));
    if (cached !== undefined) return cached === NOT_MERGED ? undefined : cached;
    if (this.options.knownMerges?.neverMerged(id) === true) return undefined;
    if (Date.now() < this.storeFailingUntil) return undefined;
    let merge: ProfileMerge | undefined;
    const sentAt = Date.now();
    const started = performance.now();
    const observe = (outcome: 'merged' | 'not_merged' | 'timeout' | 'error') => this.options.onLookup?.((performance.now() - started) / 1000, outcome);
    try {
      merge = await withTimeout(this.options.lookupTimeoutMs, () => this.merges.getMerge(id), () => new LookupTimeout(this.options.lookupTimeoutMs));
      this.storeAnsweredAt = Date.now();
      if (this.storeFailingUntil !== 0) {
        this.storeFailingUntil = 0;
        this.options.logger.info('the store answers profile lookups again');
      }
    } catch (error) {
      observe(error instanceof LookupTimeout ? 'timeout' : 'error');
      const down = !(error instanceof LookupTimeout) || this.storeAnsweredAt < sentAt;
      if (down && this.storeFailingUntil === 0) this.options.logger.warn({ err: error }, 'the store failed a profile lookup: profiles the cache does not know of are taken as not merged until it answers');
      if (down) this.storeFailingUntil = Date.now() + STORE_BACKOFF_MS;
      return undefined;
    }
    observe(merge === undefined ? 'not_merged' : 'merged');
    // Claim, not set: a merge that landed while the store was being asked keeps its entry.
    const entry = await this.cache.claim(profileKey(id), merge?.into ?? NOT_MERGED, this.options.ttlSeconds);
    return entry === NOT_MERGED ? undefined : entry;
  }

  /** One hop in the store alone (merges are decided on the source of truth, not on copies). */
  private async inStore(id: string): Promise<string | undefined> {
    return (await this.merges.getMerge(id))?.into;
  }

  /** Where `id`'s chain ends in the store; CONFLICT when it is longer than MAX_HOPS. */
  private async endInStore(id: string): Promise<string> {
    const end = await follow(id, (current) => this.inStore(current));
    if (!end.complete) throw new SluiceError('CONFLICT', `profile ${id} was merged through more than ${String(MAX_HOPS)} profiles; merge into the end of its chain`);
    return end.id;
  }
}

/**
 * Follows `next` from `id` through at most MAX_HOPS merges; stops before a profile seen
 * already (a cycle, which only racing merges could leave). `complete` is false when the
 * chain went on past MAX_HOPS.
 */
async function follow(id: string, next: (id: string) => Promise<string | undefined>): Promise<ChainEnd> {
  const seen = new Set([id]);
  let current = id;
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    const following = await next(current);
    if (following === undefined || seen.has(following)) return { id: current, complete: true };
    seen.add(following);
    current = following;
  }
  return { id: current, complete: (await next(current)) === undefined };
}
