/**
 * What the worker does after a store write of a group of messages threw, decided from the
 * facts alone (a pure function, unit-tested):
 * - `retry` the same group after a backoff: the failure is retryable and either has not
 *   repeated `isolateAfter` times yet, or the store itself is unhealthy (an outage pauses
 *   the worker; nothing is nacked, nothing counts as a delivery);
 * - `split` the group in two and write each half on its own: the failure is permanent, or
 *   keeps repeating while the store is healthy, so some message in the group causes it;
 * - `nack` the group's only message, with the failure's code and reason: the bus delivers
 *   it again later and dead-letters it after BUS_MAX_REDELIVER deliveries, while its
 *   neighbours are stored and acknowledged.
 */
export type StepAfterFailure = 'retry' | 'split' | 'nack';

export interface FailureFacts {
  /** Bus messages the failed group holds events of. */
  readonly messages: number;
  /** Whether the failure may succeed later unchanged. */
  readonly retryable: boolean;
  /** Consecutive failures of this group, this one included (≥ 1). */
  readonly failures: number;
  /** Consecutive retryable failures after which a healthy store means poison, not an outage. */
  readonly isolateAfter: number;
  /** The store's own health check, asked only once `failures` reaches `isolateAfter`. */
  readonly storeHealthy: boolean;
}

export function stepAfterFailure(facts: FailureFacts): StepAfterFailure {
  const suspectPoison = !facts.retryable || (facts.failures >= facts.isolateAfter && facts.storeHealthy);
  if (!suspectPoison) return 'retry';
  return facts.messages > 1 ? 'split' : 'nack';
}
