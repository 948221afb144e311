import type { ErrorCode } from '@sluice/core';
import type { HealthCheck } from '@sluice/observability';

/**
 * Named outputs. Code publishes to these names; the mapping to real topics is
 * configuration (BUS_TOPIC_*), checked at start-up.
 */
export type OutputName = 'events' | 'dead-letters';

export interface OutgoingMessage {
  /** Ordering/partition key (Sluice uses the profile id). */
  readonly key: string;
  readonly payload: Uint8Array;
  /** Small string headers, e.g. a dead-letter reason. */
  readonly properties?: Readonly<Record<string, string>>;
  /**
   * Set by a publisher whose payload is one `received` or `events` envelope (`@sluice/core`
   * message.ts) carrying `events` events: a bus may then carry it, with others published
   * about the same time, inside one `batch` message (see `GroupingBus`). The publish still
   * resolves only once the message holding it is durable. Unset: the payload travels alone,
   * as it is (dead letters, replays of raw bytes).
   */
  readonly groupable?: { readonly events: number };
}

export interface ReceivedMessage {
  /** Opaque id, unique within the topic. */
  readonly id: string;
  readonly key: string;
  readonly payload: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  /** How many times this message was delivered before this delivery (0 on the first). */
  readonly redeliveryCount: number;
  /**
   * When the bus took the message (ms since the epoch), where the adapter knows it: Pulsar's
   * publish time; the embedded log's append time (see AppendTimes for its precision). Feeds
   * the consumer lag gauge; nothing else depends on it.
   */
  readonly publishedAt?: number;
}

/** Why a delivery failed: a catalogue code and the failure's own words. */
export interface DeliveryFailure {
  readonly code: ErrorCode;
  readonly reason: string;
}

export interface ConsumerOptions {
  /** Flow control: most messages this consumer holds unacknowledged at once. */
  readonly maxUnacked: number;
  /** Deliveries after which a nacked message goes to the dead-letter output instead. */
  readonly maxRedeliver: number;
  /** Delay before a nacked message is delivered again, in milliseconds. */
  readonly nackDelayMs: number;
  /**
   * All messages of one key go to one consumer at a time, where the bus can: on Pulsar each
   * partition of the topic is read by one consumer of the subscription (a Failover
   * subscription) and keyed messages stay on their key's partition, so consumers beyond the
   * partition count stand by. The storage worker asks for it: two workers seldom update the
   * same profile at once (only while a partition moves between them). The embedded bus (one
   * process) ignores it.
   */
  readonly keyAffinity?: boolean;
}

/** A consumer on a subscription: many consumers split the messages between them (by partition with `keyAffinity`). */
export interface Consumer {
  /**
   * Waits up to `waitMs` milliseconds for messages and returns at most `max` of them (maybe
   * none). Never lets this consumer hold more than `maxUnacked` unacknowledged messages.
   */
  receive(max: number, waitMs: number): Promise<ReceivedMessage[]>;
  /** The message is done; it will not be delivered again (to any consumer of the subscription). */
  ack(message: ReceivedMessage): Promise<void>;
  /**
   * The message failed; it is delivered again after `nackDelayMs`, or — once it has been
   * delivered `maxRedeliver` times — published to the `dead-letters` output as a `message`
   * dead letter (`@sluice/core` DeadLetter) with the failure's code and reason.
   */
  nack(message: ReceivedMessage, failure: DeliveryFailure): Promise<void>;
  /** Stops receiving; unacknowledged messages become available to other consumers. Idempotent. */
  close(): Promise<void>;
}

/**
 * The bus between the API replicas and the storage workers. At-least-once: a message is
 * delivered until acknowledged; consumers must be idempotent.
 */
export interface EventBus extends HealthCheck {
  /**
   * Resolves only once every message is durable on the bus (the "200 means durable"
   * contract). Rejects with a retryable SluiceError (BUS_UNAVAILABLE) when it cannot be.
   */
  publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void>;
  /** Attaches a consumer to `subscription` on `output` (created on first use, from the oldest message). */
  consumer(output: OutputName, subscription: string, options: ConsumerOptions): Promise<Consumer>;
  /** Flushes and releases everything; pending publishes settle first. Idempotent. */
  close(): Promise<void>;
}

/**
 * Counts a subscription's unacknowledged messages, where a bus can (the backlog gauge).
 * Apart from EventBus on purpose: consumers never depend on it, and a bus that cannot count
 * cheaply simply has none.
 */
export interface BacklogReader {
  /**
   * Messages of `subscription` on `output` not yet acknowledged; undefined when not known now
   * (a subscription this process has not opened, an admin API it cannot read). Never throws,
   * and bounds its own time.
   */
  backlog(output: OutputName, subscription: string): Promise<number | undefined>;
}

/** Headers the bus sets on a dead-lettered message. */
export const DEAD_LETTER_REASON = 'sluice-dead-letter-reason';
export const DEAD_LETTER_CODE = 'sluice-dead-letter-code';
export const DEAD_LETTER_ORIGIN = 'sluice-dead-letter-origin';
