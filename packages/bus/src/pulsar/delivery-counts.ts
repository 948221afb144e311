/** Most nacked messages whose deliveries one consumer remembers (the oldest are forgotten first). */
const MAX_REMEMBERED = 10_000;

/**
 * Deliveries of the messages this consumer nacked, by message id. Pulsar counts redeliveries
 * only on Shared and Key_Shared subscriptions, and only in memory: on a Failover subscription
 * (key affinity) the broker says 0 every time. A message nacked there comes back to the same
 * consumer (its partition's active one), so the consumer counts for itself, and a message
 * still reaches the dead letters after BUS_MAX_REDELIVER deliveries. When its partition moves
 * to another consumer, that one counts from the broker's figure again.
 */
export class DeliveryCounts {
  private readonly nacked = new Map<string, number>();

  /** Deliveries before this one: the broker's count or this consumer's, the larger. */
  before(id: string, brokerCount: number): number {
    return Math.max(brokerCount, this.nacked.get(id) ?? 0);
  }

  /** The message was nacked after `deliveries` deliveries. */
  nack(id: string, deliveries: number): void {
    const known = this.nacked.get(id) ?? 0;
    this.nacked.delete(id);
    this.nacked.set(id, Math.max(known, deliveries));
    if (this.nacked.size > MAX_REMEMBERED) this.nacked.delete(this.nacked.keys().next().value as string);
  }

  /** Acknowledged or dead-lettered: nothing more to count. */
  settle(id: string): void {
    this.nacked.delete(id);
  }
}
