import { SluiceError, withTimeout } from '@sluice/core';
import type { ProfileCache } from '@sluice/cache';
import type { Logger } from '@sluice/observability';
import type { ProfileMerge, ProfileMerges } from '@sluice/store';

export interface ProfileDirectoryOptions {
  /** KEEP_PROFILE_IN_CACHE_FOR: how long the cache keeps what it learnt of a profile, s. */
  readonly ttlSeconds: number;
  /** Longest wait for the store when the cache does not know a profile, ms. */
  readonly lookupTimeoutMs: number;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
}

/** Longest chain of merges followed (a merged profile's survivor merged in turn, …). */
const MAX_HOPS = 8;
/** The cache's mark for "the store says this profile was not merged". */
const NOT_MERGED = '=';

const profileKey = (id: string) => `profile:${id}`;

/**
 * Where profiles live after merges. The store is the source of truth (ProfileMerges); the
 * cache holds, per profile, what the store said — its survivor, or that it was not merged —
 * for KEEP_PROFILE_IN_CACHE_FOR, so the usual request costs one cache read, and the store is
 * asked once per profile per that time (per cluster, with a shared cache).
 */
export class ProfileDirectory {
  private readonly cache: ProfileCache;
  private readonly merges: ProfileMerges;
  private readonly options: ProfileDirectoryOptions;
  /** Whether the last store lookup failed: logged once each way. */
  private storeFailing = false;

  constructor(cache: ProfileCache, merges: ProfileMerges, options: ProfileDirectoryOptions) {
    this.cache = cache;
    this.merges = merges;
    this.options = options;
  }

  /**
   * The profile `id` resolves to: itself, or the profile it was merged into, followed
   * through at most MAX_HOPS merges (a cycle, which only a race of merges could leave, stops
   * at the last profile before it). Throws only when the cache fails (identity then
   * degrades); a store that fails or is slow counts as "not merged", uncached.
   */
  resolve(id: string): Promise<string> {
    return follow(id, (current) => this.next(current));
  }

  /**
   * Merges `from` into `into` (into the profile `into` itself resolves to): records it in
   * the store, then in the cache. Idempotent. CONFLICT when `from` was merged into another
   * profile already, or when the merge would close a cycle (`into` resolves to `from`);
   * VALIDATION_FAILED when both are one profile.
   */
  async merge(from: string, into: string): Promise<ProfileMerge> {
    if (from === into) throw new SluiceError('VALIDATION_FAILED', 'a profile cannot be merged into itself', { details: [{ path: '/into', message: 'must differ from the merged profile' }] });
    const survivor = await this.resolveInStore(into);
    if (survivor === from) throw new SluiceError('CONFLICT', `profile ${into} was merged into ${from}: merging ${from} into it would make a cycle`);
    const recorded = await this.merges.recordMerge({ from, into: survivor, mergedAt: new Date().toISOString() });
    if (recorded.into !== survivor && (await this.resolveInStore(recorded.into)) !== survivor) {
      throw new SluiceError('CONFLICT', `profile ${from} was merged into ${recorded.into} already; a profile is merged once`);
    }
    // Another replica may have merged the survivor into `from` meanwhile: back ours out.
    if ((await this.resolveInStore(survivor)) === from) {
      await this.merges.removeMerge(from, survivor);
      throw new SluiceError('CONFLICT', `profile ${survivor} was merged into ${from} at the same time: merge again`);
    }
    await this.cache.set(profileKey(from), recorded.into, this.options.ttlSeconds).catch((error: unknown) => this.options.logger.warn({ err: error }, 'a merge was recorded in the store but not in the profile cache: replicas learn it once their cached entry expires'));
    return recorded;
  }

  /** One hop: the cache's entry, else the store's answer (then cached). */
  private async next(id: string): Promise<string | undefined> {
    const cached = await this.cache.get(profileKey(id));
    if (cached !== undefined) return cached === NOT_MERGED ? undefined : cached;
    let merge: ProfileMerge | undefined;
    try {
      merge = await withTimeout(this.options.lookupTimeoutMs, () => this.merges.getMerge(id), () => new Error(`the store did not answer within ${String(this.options.lookupTimeoutMs)} ms`));
      if (this.storeFailing) {
        this.storeFailing = false;
        this.options.logger.info('the store answers profile lookups again');
      }
    } catch (error) {
      if (!this.storeFailing) this.options.logger.warn({ err: error }, 'the store failed a profile lookup: profiles it does not know of are taken as not merged until it answers');
      this.storeFailing = true;
      return undefined;
    }
    await this.cache.set(profileKey(id), merge?.into ?? NOT_MERGED, this.options.ttlSeconds);
    return merge?.into;
  }

  /** The store's answer alone (merges are decided on the source of truth, not on copies). */
  private resolveInStore(id: string): Promise<string> {
    return follow(id, async (current) => (await this.merges.getMerge(current))?.into);
  }
}

/**
 * Follows `next` from `id` through at most MAX_HOPS merges; stops before a profile seen
 * already (a cycle, which only racing merges could leave).
 */
async function follow(id: string, next: (id: string) => Promise<string | undefined>): Promise<string> {
  const seen = new Set([id]);
  let current = id;
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    const following = await next(current);
    if (following === undefined || seen.has(following)) return current;
    seen.add(following);
    current = following;
  }
  return current;
}
