import { SluiceError, encodeBatch } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import type { Consumer, ConsumerOptions, EventBus, OutgoingMessage, OutputName } from '../port.ts';
import { partitionOfKey } from '../pulsar/key-partition.ts';

export interface GroupingOptions {
  /**
   * How long the first message of a group waits for others before the group is sent, in
   * milliseconds. 0: the group holds what was published in the same turn of the event loop.
   */
  readonly lingerMs: number;
  /** Most payload bytes in one group message (below the broker's and the proxy's frame limits). */
  readonly maxBytes: number;
  /**
   * Most events in one group message: the storage worker sizes its receive on a message
   * holding at most TRACK_MAX_EVENTS events, so a group never holds more.
   */
  readonly maxEvents: number;
  /**
   * Partitions of the events topic: a message is grouped only with others bound for its
   * key's partition (`partitionOfKey`), so each storage worker, which owns whole partitions,
   * still receives every message of its keys. 1: one group for all.
   */
  readonly partitions: number;
}

/** The bytes `encodeBatch` adds around its parts, bounded from above: head, tail and one comma a part. */
const BATCH_OVERHEAD_BYTES = 48;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Messages waiting to leave as one. */
interface Group {
  readonly partition: number;
  /** The key of its first message: the group goes to that key's partition, as each of its messages would. */
  readonly key: string;
  readonly parts: Uint8Array[];
  readonly waiters: Waiter[];
  bytes: number;
  events: number;
  /** Cancels the linger timer. */
  cancel: () => void;
}

/**
 * An EventBus that sends the `groupable` messages of the `events` output published within
 * `lingerMs` of each other and bound for the same partition as one bus message: a `batch`
 * envelope (`@sluice/core` `encodeBatch`) holding them spliced in unchanged, keyed by its
 * first message's key, cut at `maxBytes` and `maxEvents`. Every publish in a group resolves when the inner bus
 * acknowledged the group's message, and rejects with its error when it did not — so "200
 * means durable" holds per request, and a failed group fails each of its requests (which a
 * spool above this bus then takes one by one). A group of one travels as the message
 * itself. Anything else (dead letters, raw replays, several messages at once, messages
 * with properties) passes through untouched. Consumers read the inner bus.
 */
export class GroupingBus implements EventBus {
  private readonly inner: EventBus;
  private readonly options: GroupingOptions;
  /** The group filling for each partition. */
  private readonly open = new Map<number, Group>();
  private closed = false;

  constructor(inner: EventBus, options: GroupingOptions) {
    this.inner = inner;
    this.options = options;
  }

  publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new SluiceError('BUS_UNAVAILABLE', 'the bus is closed'));
    const [message] = messages;
    if (output !== 'events' || messages.length !== 1 || message === undefined || !this.fitsAGroup(message)) return this.inner.publish(output, messages);
    const bytes = message.payload.byteLength + 1;
    const events = message.groupable?.events ?? 0;
    const partition = partitionOfKey(message.key, this.options.partitions);
    const full = this.open.get(partition);
    if (full !== undefined && (full.bytes + bytes > this.options.maxBytes || full.events + events > this.options.maxEvents)) this.send(full);
    let group = this.open.get(partition);
    if (group === undefined) {
      group = this.startGroup(partition, message.key);
      this.open.set(partition, group);
    }
    group.parts.push(message.payload);
    group.bytes += bytes;
    group.events += events;
    const waiters = group.waiters;
    const acknowledged = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    if (group.bytes >= this.options.maxBytes || group.events >= this.options.maxEvents) this.send(group);
    return acknowledged;
  }

  /** A groupable message that a group can hold at all (one too large travels alone). */
  private fitsAGroup(message: OutgoingMessage): boolean {
    if (message.groupable === undefined || Object.keys(message.properties ?? {}).length > 0) return false;
    return message.payload.byteLength + 1 + BATCH_OVERHEAD_BYTES <= this.options.maxBytes && message.groupable.events <= this.options.maxEvents;
  }

  private startGroup(partition: number, key: string): Group {
    const group: Group = { partition, key, parts: [], waiters: [], bytes: BATCH_OVERHEAD_BYTES, events: 0, cancel: () => undefined };
    const send = () => this.send(group);
    if (this.options.lingerMs === 0) {
      const immediate = setImmediate(send);
      group.cancel = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(send, this.options.lingerMs);
      group.cancel = () => clearTimeout(timer);
    }
    return group;
  }

  /** Sends an open group as one message (once); settles each of its publishes with the outcome. */
  private send(group: Group): void {
    if (this.open.get(group.partition) !== group) return;
    this.open.delete(group.partition);
    group.cancel();
    const payload = group.parts.length === 1 ? group.parts[0]! : encodeBatch(group.parts);
    this.inner.publish('events', [{ key: group.key, payload }]).then(
      () => {
        for (const waiter of group.waiters) waiter.resolve();
      },
      (error: unknown) => {
        for (const waiter of group.waiters) waiter.reject(error);
      },
    );
  }

  consumer(output: OutputName, subscription: string, options: ConsumerOptions): Promise<Consumer> {
    return this.inner.consumer(output, subscription, options);
  }

  health(): Promise<DependencyHealth> {
    return this.inner.health();
  }

  /** Sends the open group, then closes the inner bus (which settles pending publishes first). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const group of [...this.open.values()]) this.send(group);
    await this.inner.close();
  }
}
