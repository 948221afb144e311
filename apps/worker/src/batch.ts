import type { TrackedEvent } from '@sluice/core';
import type { ReceivedMessage } from '@sluice/bus';

/** A message from the bus with the events it carries; acked once `pendingEvents` reaches 0. */
export interface HeldMessage {
  readonly message: ReceivedMessage;
  pendingEvents: number;
  /** Nacked: never acknowledged, and its events still buffered are not written (it comes back whole). */
  failed: boolean;
  /** Acknowledged (once). */
  acked: boolean;
}

export interface PendingEvent {
  readonly event: TrackedEvent;
  readonly holder: HeldMessage;
  /** Stored or dead-lettered: counted off its message once (`settleEvent`). */
  settled: boolean;
}

/** Marks an event stored or dead-lettered, counting it off its message exactly once. */
export function settleEvent(pending: PendingEvent): void {
  if (pending.settled) return;
  pending.settled = true;
  pending.holder.pendingEvents -= 1;
}

/**
 * The worker's buffer: events in arrival order, each pointing back at the message that
 * carried it. Batches are cut at exactly `batchSize` events; a message is complete once all
 * of its events are written or dead-lettered.
 */
export class EventBuffer {
  private events: PendingEvent[] = [];
  private oldestAt: number | undefined;

  get size(): number {
    return this.events.length;
  }

  /** Milliseconds since the oldest buffered event arrived (0 when empty). */
  ageMs(now: number): number {
    return this.oldestAt === undefined ? 0 : now - this.oldestAt;
  }

  add(message: ReceivedMessage, events: readonly TrackedEvent[], now: number): HeldMessage {
    const holder: HeldMessage = { message, pendingEvents: events.length, failed: false, acked: false };
    for (const event of events) this.events.push({ event, holder, settled: false });
    if (events.length > 0) this.oldestAt ??= now;
    return holder;
  }

  /** Removes and returns the oldest `max` events. */
  take(max: number, now: number): PendingEvent[] {
    const taken = this.events.slice(0, max);
    this.events = this.events.slice(max);
    this.oldestAt = this.events.length === 0 ? undefined : now;
    return taken;
  }

  /** Empties the buffer (on shutdown without a flush): the messages stay unacked on the bus. */
  clear(): void {
    this.events = [];
    this.oldestAt = undefined;
  }
}
