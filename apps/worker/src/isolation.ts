/**
 * What the storage worker does with a group of events whose write failed, decided from the
 * facts alone (a pure function, unit-tested). A poison message is one whose write fails
 * while the store takes other writes; an outage or an overload fails every write. So:
 * - a permanent failure (the request can never succeed) points at the group: `split` it
 *   between messages, or `nack` its only message;
 * - a retryable failure points at the group only with evidence that the store takes other
 *   writes — another group of the batch was written since this one was formed, or the
 *   store's health check passes and this group has failed alone for `suspectAfterMs` — and
 *   a batch whose first write failed may be split once without evidence (the probe that
 *   finds some);
 * - otherwise `defer`: the group waits, with backoff, until the store takes writes again.
 *   Nothing is nacked during an outage or a short overload.
 * A nacked message is delivered again after BUS_NACK_DELAY and dead-lettered after
 * BUS_MAX_REDELIVER deliveries, while its neighbours are stored and acknowledged.
 */
export type StepAfterFailure = 'split' | 'nack' | 'defer';

export interface FailureFacts {
  /** Bus messages the failed events belong to. */
  readonly messages: number;
  /** Whether the failure may succeed later unchanged. */
  readonly retryable: boolean;
  /** The group is a whole batch that has not been split yet. */
  readonly probe: boolean;
  /** Another group of the batch was written (some event settled) since this group was formed. */
  readonly othersWritten: boolean;
  /** The store's own health check passes. */
  readonly storeHealthy: boolean;
  /** How long this group has been failing, in milliseconds. */
  readonly failingForMs: number;
  /** How long a group may fail alone, the store healthy, before it is suspected (2 × STORAGE_RETRY_MAX_DELAY). */
  readonly suspectAfterMs: number;
}

export function stepAfterFailure(facts: FailureFacts): StepAfterFailure {
  const pointAtGroup = (): StepAfterFailure => (facts.messages > 1 ? 'split' : 'nack');
  if (!facts.retryable) return pointAtGroup();
  const evidence = facts.othersWritten || (facts.storeHealthy && facts.failingForMs >= facts.suspectAfterMs);
  if (evidence) return pointAtGroup();
  if (facts.probe && facts.storeHealthy && facts.messages > 1) return 'split';
  return 'defer';
}
