import type { HealthCheck } from '@sluice/observability';

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
  close(): Promise<void>;
}
