import type { HealthCheck } from '@sluice/observability';
import type { RateLimiter } from './rate-limit/rate-limiter.ts';

/**
 * The profile/session cache: string values with a time to live. Only the operations Sluice
 * uses are declared.
 */
export interface ProfileCache extends HealthCheck {
  /** True when other processes see what this one stores (Redis); false for a per-process cache. */
  readonly shared: boolean;
  get(key: string): Promise<string | undefined>;
  /** Stores `value` for `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * Atomically: if `key` holds a value, refreshes its TTL and returns it; otherwise stores
   * `value` and returns it. Concurrent claims of one key all return the same winner.
   */
  claim(key: string, value: string, ttlSeconds: number): Promise<string>;
  delete(key: string): Promise<void>;
  /**
   * A rate limiter counting where this cache stores: in this process (embedded), or across
   * every replica (Redis, on the cache's connection). `maxEventsPerRequest` is the largest
   * request that must fit in one window; `onFallback` counts decisions a shared limiter took
   * locally because its store failed.
   */
  rateLimiter(options: { maxEventsPerRequest: number; onFallback?: () => void }): RateLimiter;
  close(): Promise<void>;
}
