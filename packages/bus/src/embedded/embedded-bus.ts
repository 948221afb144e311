import { readdir, readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import { deadLetterOf } from '../dead-letter.ts';
import { type BacklogReader, type Consumer, type ConsumerOptions, type DeliveryFailure, type EventBus, type OutgoingMessage, type OutputName, type ReceivedMessage } from '../port.ts';
import { lockDirectory, type DirLock } from './dir-lock.ts';
import { encodeRecord } from './record.ts';
import { Subscription } from './subscription.ts';
import { TopicLog } from './topic-log.ts';

export interface EmbeddedBusOptions {
  /** Directory of the logs (one folder per topic). */
  readonly dir: string;
  /** Named outputs → topic names. */
  readonly topics: Readonly<Record<OutputName, string>>;
  readonly segmentBytes: number;
  readonly fsync: boolean;
  /** How often fully acknowledged segments are deleted, in milliseconds. */
  readonly compactionIntervalMs?: number;
}

const CURSOR_PATTERN = /^cursor-(.+)\.json$/;

/**
 * The embedded EventBus: a durable, group-committed log per topic under DATA_DIR, with
 * shared subscriptions, redelivery and dead letters. One process owns the directory
 * (a heartbeat lock guards it, see dir-lock.ts; a lock left by a killed process is taken
 * over within LOCK_STALE_MS).
 */
export class EmbeddedBus implements EventBus, BacklogReader {
  private readonly logs = new Map<string, TopicLog>();
  private readonly subscriptions = new Map<string, Promise<Subscription>>();
  private readonly compactionTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  private readonly options: EmbeddedBusOptions;
  private readonly lock: DirLock;

  private constructor(options: EmbeddedBusOptions, lock: DirLock) {
    this.options = options;
    this.lock = lock;
    this.compactionTimer = setInterval(() => void this.compact().catch(() => undefined), options.compactionIntervalMs ?? 10_000);
    this.compactionTimer.unref();
  }

  static async open(options: EmbeddedBusOptions): Promise<EmbeddedBus> {
    await mkdir(options.dir, { recursive: true });
    const lock = await lockDirectory(options.dir);
    const bus = new EmbeddedBus(options, lock);
    try {
      for (const topic of Object.values(options.topics)) bus.logs.set(topic, await TopicLog.open(join(options.dir, topic), options));
    } catch (error) {
      await bus.close();
      throw error;
    }
    return bus;
  }

  async publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closing !== undefined) throw new SluiceError('BUS_UNAVAILABLE', 'the bus is closing');
    const frames = messages.map((message) => encodeRecord(message.key, message.properties, message.payload));
    try {
      await this.log(output).append(frames);
    } catch (error) {
      throw new SluiceError('BUS_UNAVAILABLE', `could not append to the embedded log: ${(error as Error).message}`, { cause: error });
    }
  }

  async consumer(output: OutputName, subscriptionName: string, options: ConsumerOptions): Promise<Consumer> {
    const subscription = await this.subscription(this.options.topics[output], subscriptionName);
    const id = subscription.attach(options);
    let closed = false;
    return {
      receive: (max, waitMs) => subscription.receive(id, max, waitMs, options, () => closed || this.closing !== undefined),
      ack: async (message: ReceivedMessage) => subscription.ack(Number(message.id)),
      nack: (message: ReceivedMessage, failure: DeliveryFailure) => subscription.nack(Number(message.id), failure, options),
      close: async () => {
        if (closed) return;
        closed = true;
        subscription.detach(id, options);
        await subscription.checkpoint();
      },
    };
  }

  /** Bytes the output's log holds on disk (acknowledged segments go at the next compaction). */
  storedBytes(output: OutputName): number {
    return this.log(output).stats.bytes;
  }

  /** Messages of the subscription not yet acknowledged (the log's head less what is acknowledged); undefined for one not opened by this process. */
  backlog(output: OutputName, subscriptionName: string): Promise<number | undefined> {
    const pending = this.subscriptions.get(`${this.options.topics[output]}/${subscriptionName}`);
    return pending === undefined ? Promise.resolve(undefined) : pending.then((subscription) => subscription.backlog, () => undefined);
  }

  async health(): Promise<DependencyHealth> {
    const topics: Record<string, unknown> = {};
    for (const [topic, log] of this.logs) topics[topic] = log.stats;
    const subscriptions: Record<string, unknown> = {};
    for (const [key, pending] of this.subscriptions) {
      const subscription = await pending;
      subscriptions[key] = { committedOffset: subscription.committedOffset, backlog: subscription.backlog, held: subscription.held };
    }
    return { ok: this.closing === undefined, adapter: 'embedded', detail: { dir: this.options.dir, topics, subscriptions } };
  }

  /** Deletes segments every known subscription of the topic has fully acknowledged. */
  async compact(): Promise<void> {
    for (const [topic, log] of this.logs) {
      const committed = await this.committedOffsets(topic);
      if (committed.length > 0) await log.deleteBelow(Math.min(...committed));
    }
  }

  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    clearInterval(this.compactionTimer);
    for (const pending of this.subscriptions.values()) await (await pending).close();
    for (const log of this.logs.values()) await log.close();
    await this.lock.release();
  }

  private log(output: OutputName): TopicLog {
    const log = this.logs.get(this.options.topics[output]);
    if (log === undefined) throw new Error(`no log for output ${output}`);
    return log;
  }

  private subscription(topic: string, name: string): Promise<Subscription> {
    const key = `${topic}/${name}`;
    let pending = this.subscriptions.get(key);
    if (pending === undefined) {
      const log = this.logs.get(topic);
      if (log === undefined) throw new Error(`unknown topic ${topic}`);
      const subscription = new Subscription(log, join(this.options.dir, topic, `cursor-${name}.json`), (entry, failure, deliveries) =>
        this.publish('dead-letters', [deadLetterOf(entry.record, failure, `${topic}#${entry.offset}`, deliveries)]),
      );
      pending = subscription.load().then(() => subscription);
      this.subscriptions.set(key, pending);
    }
    return pending;
  }

  /** Committed offsets of every subscription of `topic`, attached or only on disk. */
  private async committedOffsets(topic: string): Promise<number[]> {
    const offsets = new Map<string, number>();
    for (const name of await readdir(join(this.options.dir, topic))) {
      const match = CURSOR_PATTERN.exec(name);
      if (match?.[1] === undefined) continue;
      const saved = JSON.parse(await readFile(join(this.options.dir, topic, name), 'utf8')) as { committed: number };
      offsets.set(match[1], saved.committed);
    }
    for (const [key, pending] of this.subscriptions) {
      const [subscriptionTopic, name] = key.split('/');
      if (subscriptionTopic === topic && name !== undefined) offsets.set(name, (await pending).committedOffset);
    }
    return [...offsets.values()];
  }
}
