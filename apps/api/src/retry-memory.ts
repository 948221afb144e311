import { hash } from 'node:crypto';
import type { ProfileCache } from '@sluice/cache';
import type { RequestFacts } from '@sluice/core';

/**
 * How often a replica sharing the cache reads whether any replica answered a 503 lately, ms.
 * A retry reaching another replica sooner than this after the 503 may not be recognised; the
 * 503 says `Retry-After: 1`.
 */
const RECENT_POLL_MS = 200;
/** Until when (ms since the epoch) some replica may hold a remembered request. */
const RECENT_KEY = 'retry:recent';

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
   * Until when this process may hold a remembered request (ms since the epoch): nothing can
   * be recalled unless this process answered a 503 within the memory's time to live, so the
   * usual request costs no hash and no lookup.
   */
  private holdsUntil = 0;
  /**
   * The same for every replica sharing the cache: until when any of them may hold a
   * remembered request, as read from the cache's `retry:recent` key every RECENT_POLL_MS.
   */
  private sharedUntil = 0;
  private readonly polling: NodeJS.Timeout | undefined;

  /** `ttlSeconds` 0 turns the memory off. */
  constructor(cache: ProfileCache, ttlSeconds: number) {
    this.cache = cache;
    this.ttlSeconds = ttlSeconds;
    if (cache.shared && ttlSeconds > 0) {
      this.polling = setInterval(() => void this.poll(), RECENT_POLL_MS).unref();
      void this.poll();
    }
  }

  /** Stops polling the shared cache. */
  close(): void {
    clearInterval(this.polling);
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

  /**
   * Whether a request could have been remembered at all: a replica (this one, or one sharing
   * the cache, as last polled) answered a 503 within the memory's time to live.
   */
  get mayRecall(): boolean {
    return this.ttlSeconds > 0 && Date.now() < Math.max(this.holdsUntil, this.sharedUntil);
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
    await Promise.all([
      this.cache.set(key, JSON.stringify(decisions), this.ttlSeconds),
      this.cache.shared ? this.cache.set(RECENT_KEY, String(this.holdsUntil), this.ttlSeconds) : undefined,
    ]);
  }

  private async poll(): Promise<void> {
    const until = Number(await this.cache.get(RECENT_KEY).catch(() => undefined));
    if (Number.isFinite(until)) this.sharedUntil = until;
  }

  /** The retry was accepted: the same body sent again is a new request. */
  async forget(key: string): Promise<void> {
    await this.cache.delete(key);
  }
}
