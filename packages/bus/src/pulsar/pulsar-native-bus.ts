import { SluiceError } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import { deadLetterOf } from '../dead-letter.ts';
import { DeliveryCounts } from './delivery-counts.ts';
import { type Consumer, type ConsumerOptions, type DeliveryFailure, type EventBus, type OutgoingMessage, type OutputName, type ReceivedMessage } from '../port.ts';

/**
 * The part of the `pulsar-client` (npm) API this adapter uses, declared here because the
 * binding is an optional dependency: it installs only where its native library can be
 * downloaded or built, so its own type definitions may be absent at build time.
 */
interface NativeMessageId {
  toString(): string;
}
interface NativeMessage {
  getData(): Buffer;
  getProperties(): Record<string, string>;
  getPartitionKey(): string;
  getMessageId(): NativeMessageId;
  getRedeliveryCount(): number;
  /** Publish time, ms since the epoch. */
  getPublishTimestamp(): number;
}
interface NativeProducer {
  send(message: { data: Buffer; properties?: Record<string, string>; partitionKey?: string }): Promise<NativeMessageId>;
  flush(): Promise<null>;
  close(): Promise<null>;
}
interface NativeConsumer {
  receive(timeoutMs?: number): Promise<NativeMessage>;
  acknowledge(message: NativeMessage): Promise<null>;
  negativeAcknowledge(message: NativeMessage): void;
  close(): Promise<null>;
}
interface NativeClient {
  createProducer(config: Record<string, unknown>): Promise<NativeProducer>;
  subscribe(config: Record<string, unknown>): Promise<NativeConsumer>;
  close(): Promise<null>;
}
export interface NativePulsarModule {
  Client: new (config: Record<string, unknown>) => NativeClient;
  AuthenticationToken: new (config: { token: string }) => unknown;
}

/** Typed as a plain string so that the build never needs the optional package's types. */
const NATIVE_MODULE: string = 'pulsar-client';

/** The `pulsar-client` binding where it loads, else why not. */
export async function loadNativePulsar(): Promise<{ module: NativePulsarModule } | { error: string }> {
  try {
    const imported = (await import(NATIVE_MODULE)) as { default?: NativePulsarModule } & Partial<NativePulsarModule>;
    const module = imported.default ?? (imported as NativePulsarModule);
    if (typeof module.Client !== 'function') return { error: 'pulsar-client loaded without a Client class' };
    return { module };
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] ?? 'cannot load pulsar-client' };
  }
}

export interface PulsarNativeBusOptions {
  /** Broker service URL, `pulsar://host:6650` or `pulsar+ssl://`. */
  readonly serviceUrl: string;
  readonly tenant: string;
  readonly namespace: string;
  readonly topics: Readonly<Record<OutputName, string>>;
  readonly authToken?: string;
  readonly sendTimeoutMs: number;
  readonly batching?: boolean;
  readonly compression?: 'NONE' | 'LZ4' | 'ZLIB' | 'ZSTD' | 'SNAPPY';
}

const unavailable = (message: string, cause?: unknown) => new SluiceError('BUS_UNAVAILABLE', message, cause === undefined ? {} : { cause });

/**
 * The Pulsar EventBus on the native binding (the C++ client): same contract as the
 * WebSocket transport — publish resolves on the broker's ack, a Shared (or, with `keyAffinity`, Failover) subscription,
 * delayed nacks, and a dead letter with its reason once `maxRedeliver` deliveries failed.
 * The binding reconnects by itself.
 */
export class PulsarNativeBus implements EventBus {
  private readonly client: NativeClient;
  private readonly producers = new Map<string, Promise<NativeProducer>>();
  private readonly consumers = new Set<NativeBusConsumer>();
  private closed = false;

  private readonly options: PulsarNativeBusOptions;

  constructor(pulsar: NativePulsarModule, options: PulsarNativeBusOptions) {
    this.options = options;
    this.client = new pulsar.Client({
      serviceUrl: options.serviceUrl,
      operationTimeoutSeconds: Math.max(1, Math.ceil(options.sendTimeoutMs / 1000)),
      ...(options.authToken === undefined ? {} : { authentication: new pulsar.AuthenticationToken({ token: options.authToken }) }),
    });
  }

  topic(output: OutputName): string {
    return `persistent://${this.options.tenant}/${this.options.namespace}/${this.options.topics[output]}`;
  }

  async publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw unavailable('the bus is closed');
    if (messages.length === 0) return;
    const topic = this.topic(output);
    let producer = this.producers.get(topic);
    if (producer === undefined) {
      producer = this.client.createProducer({
        topic,
        sendTimeoutMs: this.options.sendTimeoutMs,
        batchingEnabled: this.options.batching ?? false,
        compressionType: this.options.compression ?? 'LZ4',
        // As the WebSocket producer: keyed messages go to the partition `partitionOfKey` names.
        hashingScheme: 'JavaStringHash',
        messageRoutingMode: 'RoundRobinDistribution',
        blockIfQueueFull: true,
      });
      this.producers.set(topic, producer);
      producer.catch(() => this.producers.delete(topic));
    }
    try {
      const ready = await producer;
      await Promise.all(messages.map((message) => ready.send({ data: Buffer.from(message.payload), partitionKey: message.key, ...(message.properties === undefined ? {} : { properties: { ...message.properties } }) })));
    } catch (error) {
      throw unavailable(`the broker did not acknowledge: ${(error as Error).message}`, error);
    }
  }

  async consumer(output: OutputName, subscription: string, options: ConsumerOptions): Promise<Consumer> {
    if (this.closed) throw unavailable('the bus is closed');
    const native = await this.client
      .subscribe({
        topic: this.topic(output),
        subscription,
        subscriptionType: options.keyAffinity === true ? 'Failover' : 'Shared',
        subscriptionInitialPosition: 'Earliest',
        receiverQueueSize: Math.max(1, Math.min(1000, options.maxUnacked)),
        nAckRedeliverTimeoutMs: options.nackDelayMs,
      })
      .catch((error: unknown) => {
        throw unavailable(`cannot subscribe: ${(error as Error).message}`, error);
      });
    const consumer = new NativeBusConsumer(this, native, this.topic(output), options, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    return consumer;
  }

  async health(): Promise<DependencyHealth> {
    return { ok: !this.closed, adapter: 'pulsar', detail: { transport: 'native', consumers: this.consumers.size } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.close()));
    const producers = await Promise.allSettled(this.producers.values());
    await Promise.all(producers.map(async (settled) => {
      if (settled.status === 'fulfilled') await settled.value.flush().then(() => settled.value.close()).catch(() => undefined);
    }));
    await this.client.close();
  }
}

class NativeBusConsumer implements Consumer {
  /** Messages handed to the caller and not yet acked or nacked, by id. */
  private readonly held = new Map<string, NativeMessage>();
  private readonly deliveries = new DeliveryCounts();
  private closed = false;

  private readonly bus: PulsarNativeBus;
  private readonly native: NativeConsumer;
  private readonly topic: string;
  private readonly options: ConsumerOptions;
  private readonly onClose: () => void;

  constructor(bus: PulsarNativeBus, native: NativeConsumer, topic: string, options: ConsumerOptions, onClose: () => void) {
    this.bus = bus;
    this.native = native;
    this.topic = topic;
    this.options = options;
    this.onClose = onClose;
  }

  async receive(max: number, waitMs: number): Promise<ReceivedMessage[]> {
    const received: ReceivedMessage[] = [];
    const deadline = Date.now() + waitMs;
    // Flow control: never hold more than maxUnacked, whatever the binding prefetched.
    while (!this.closed && received.length < max && this.held.size < this.options.maxUnacked) {
      const left = received.length === 0 ? deadline - Date.now() : 0;
      let message: NativeMessage;
      try {
        message = await this.native.receive(Math.max(1, left));
      } catch {
        break; // timed out (the binding rejects on timeout)
      }
      const id = message.getMessageId().toString();
      // A copy of a message still held (a Failover subscription redelivers every unacknowledged one after a nack).
      if (this.held.has(id) || received.some((taken) => taken.id === id)) continue;
      this.held.set(id, message);
      received.push({ id, key: message.getPartitionKey(), payload: message.getData(), properties: message.getProperties(), redeliveryCount: this.deliveries.before(id, message.getRedeliveryCount()), publishedAt: message.getPublishTimestamp() });
    }
    return received;
  }

  async ack(message: ReceivedMessage): Promise<void> {
    const native = this.held.get(message.id);
    if (native === undefined) return;
    this.held.delete(message.id);
    this.deliveries.settle(message.id);
    await this.native.acknowledge(native);
  }

  async nack(message: ReceivedMessage, failure: DeliveryFailure): Promise<void> {
    const native = this.held.get(message.id);
    if (native === undefined) return;
    if (message.redeliveryCount + 1 >= this.options.maxRedeliver) {
      await this.bus.publish('dead-letters', [deadLetterOf(message, failure, `${this.topic} ${message.id}`, message.redeliveryCount + 1)]);
      this.held.delete(message.id);
      this.deliveries.settle(message.id);
      await this.native.acknowledge(native);
      return;
    }
    this.held.delete(message.id);
    this.deliveries.nack(message.id, message.redeliveryCount + 1);
    this.native.negativeAcknowledge(native);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.native.close().catch(() => undefined);
    this.onClose();
  }
}
