import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { LimiterPool, MemoryRateLimiter, consume, type RateDecision, type RateLimiter } from './rate-limiter.ts';

export interface RedisRateLimiterOptions {
  /** The connection to count on: the profile cache's (its key prefix, command timeout, no offline queue). */
  readonly redis: Redis;
  /** TRACK_MAX_EVENTS: the largest request must fit in one window's allowance. */
  readonly maxEventsPerRequest: number;
  /** Counts a decision taken by the local fallback because Redis failed. */
  readonly onFallback?: (() => void) | undefined;
  /** True while the cache takes Redis as down (a recent timeout): decide locally at once. */
  readonly isDown?: () => boolean;
}

/**
 * Rate limits counted in Redis, so that every API replica spends one allowance per source.
 * One round trip per take (one Lua script), sent in the same pipeline as the request's
 * identity claim when both are issued in one tick. Once a replica has seen a window
 * exhausted it refuses locally until the window ends, without asking Redis.
 *
 * When Redis fails (down, or slower than the command timeout) the limiter fails open to a
 * bucket of this replica's own, with the same limit: over N replicas a source may then get
 * up to N times its limit until Redis answers again.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly pool: LimiterPool;
  private readonly fallback: MemoryRateLimiter;
  private readonly onFallback: () => void;
  private readonly isDown: () => boolean;

  constructor(options: RedisRateLimiterOptions) {
    this.pool = new LimiterPool(options.maxEventsPerRequest, (window, keyPrefix) => new RateLimiterRedis({ storeClient: options.redis, points: window.points, duration: window.seconds, keyPrefix, rejectIfRedisNotReady: true, inMemoryBlockOnConsumed: window.points }));
    this.fallback = new MemoryRateLimiter({ maxEventsPerRequest: options.maxEventsPerRequest });
    this.onFallback = options.onFallback ?? (() => undefined);
    this.isDown = options.isDown ?? (() => false);
  }

  async take(key: string, events: number, perSecond: number): Promise<RateDecision> {
    try {
      if (this.isDown()) throw new Error('Redis taken as down');
      return await consume(this.pool.of(perSecond), key, events);
    } catch {
      this.onFallback();
      return this.fallback.take(key, events, perSecond);
    }
  }
}
