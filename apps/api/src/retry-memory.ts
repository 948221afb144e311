import { hash } from 'node:crypto';
import type { ProfileCache } from '@sluice/cache';
import type { RequestFacts } from '@sluice/core';

/** What a retry reuses: everything the API decided about the first attempt but the request metadata. */
export type Decisions = Omit<RequestFacts, 'metadata'>;

/**
 * Makes a `/track` retry idempotent. A 503 BUS_UNAVAILABLE cannot promise that nothing was
 * stored: a publish that timed out may still reach the bus. So the API remembers what it
 * decided for a request it answered 503 — ids, profile, session, receive time — keyed by
 * the source and a SHA-256 of the body; the client's retry of the same body (to any replica
 * sharing the cache) reuses them, and the store, idempotent per source and id, keeps one
 * copy whichever attempts land. Only 503'd bodies that name their session or profile are
 * remembered, until a retry is accepted: a body sent again after a 200 is a new request.
 * (Events with client ids need none of this: their ids are their idempotency keys.)
 */
export class RetryMemory {
  private readonly cache: ProfileCache;
  private readonly ttlSeconds: number;
  /**
   * Until when this process may hold a remembered request (ms since the epoch): with a
   * per-process cache nothing can be recalled unless this process answered a 503 within the
   * memory's time to live, so the usual request costs no hash and no lookup.
   */
  private holdsUntil = 0;

  /** `ttlSeconds` 0 turns the memory off. */
  constructor(cache: ProfileCache, ttlSeconds: number) {
    this.cache = cache;
    this.ttlSeconds = ttlSeconds;
  }

  /**
   * The cache key of one request body of one source, or undefined when the memory is off or
   * the body names no session and no profile: such a body (a visitor's first hit) can be
   * byte for byte the same for many visitors, so it cannot tell a retry from a stranger.
   */
  keyOf(sourceId: string, body: string, identified: boolean): string | undefined {
    if (this.ttlSeconds === 0 || !identified) return undefined;
    return `retry:${sourceId}/${hash('sha256', body, 'base64url')}`; // one-shot hash: no Hash object per request
  }

  /** Whether a request could have been remembered at all (a shared cache, or a recent 503 here). */
  get mayRecall(): boolean {
    return this.ttlSeconds > 0 && (this.cache.shared || Date.now() < this.holdsUntil);
  }

  /**
   * The decisions of an earlier attempt of this request that was answered 503, if any.
   * Never throws: when the cache fails the request is taken as new (see docs/redis.md, a
   * retry during a cache outage may then be stored twice).
   */
  async recall(key: string): Promise<Decisions | undefined> {
    const value = await this.cache.get(key).catch(() => undefined);
    return value === undefined ? undefined : (JSON.parse(value) as Decisions);
  }

  async remember(key: string, decisions: Decisions): Promise<void> {
    this.holdsUntil = Date.now() + this.ttlSeconds * 1000;
    await this.cache.set(key, JSON.stringify(decisions), this.ttlSeconds);
  }

  /** The retry was accepted: the same body sent again is a new request. */
  async forget(key: string): Promise<void> {
    await this.cache.delete(key);
  }
}
