export interface BackoffPolicy {
  /** Delay before the first retry, in milliseconds. */
  baseDelayMs: number;
  /** Upper bound of any one delay, in milliseconds. */
  maxDelayMs: number;
}

/**
 * Exponential backoff with "equal jitter": a random delay in [c/2, c] where
 * c = min(max, base·2^attempt), so retries spread out yet never fire at once.
 * `attempt` counts from 0. `random` is injectable for tests.
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
