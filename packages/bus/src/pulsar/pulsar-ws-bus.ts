import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { SluiceError, backoffDelayMs } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import { deadLetterOf } from '../dead-letter.ts';
import { DeliveryCounts } from './delivery-counts.ts';
import {
  type Consumer, type ConsumerOptions, type DeliveryFailure, type EventBus, type OutgoingMessage, type OutputName, type ReceivedMessage,
} from '../port.ts';

export interface PulsarWsBusOptions {
  /** The broker's web service (admin REST and WebSocket), e.g. http://127.0.0.1:8080. */
  readonly webServiceUrl: string;
  readonly tenant: string;
  readonly namespace: string;
  /** Topic name per output, inside tenant/namespace. */
  readonly topics: Readonly<Record<OutputName, string>>;
  readonly authToken?: string;
  /** The broker gives up on a send after this long (producer sendTimeoutMillis). */
  readonly sendTimeoutMs: number;
  /**
   * Producer batching across concurrent publishes. Off by default: the WebSocket proxy's
   * consumer cannot ack one message of a batch on its own (no batch-index acks), so after a
   * reconnect a partly acked batch comes back whole — duplicates the idempotent store
   * absorbs, but duplicates. One publish (one HTTP request's events) is one message anyway.
   */
  readonly batching?: boolean;
  /** Producer compression: LZ4 by default. */
  readonly compression?: 'NONE' | 'LZ4' | 'ZLIB' | 'ZSTD' | 'SNAPPY';
  /**
   * Producer sockets per topic and process (1 by default). Each publish goes to the one with
   * the fewest messages waiting for the broker; the proxy serves each socket on its own.
   */
  readonly producers?: number;
  /** Reconnect backoff, milliseconds. */
  readonly reconnectBaseDelayMs?: number;
  readonly reconnectMaxDelayMs?: number;
}

/** A message as the WebSocket API delivers it. */
interface WsMessage {
  readonly messageId: string;
  readonly payload: string;
  readonly properties?: Record<string, string>;
  readonly key?: string;
  readonly redeliveryCount?: number;
  /** ISO 8601, e.g. 2026-12-01T23:01:35.795Z. */
  readonly publishTime?: string;
}

interface WsSendResult {
  readonly result: string;
  readonly errorMsg?: string;
  readonly context?: string;
}

/** Longer than the Java client's ack grouping window (100 ms) that the WebSocket proxy uses. */
const ACK_LINGER_MS = 300;

/**
 * The masking key of the producer's frames: all zeros, which ws then skips (its
 * `generateMask` option, added for this). A deliberate departure from RFC 6455 §5.3, which
 * wants an unpredictable key: the mask exists against script in a browser choosing a frame's
 * bytes so that a confused proxy on the way takes them for a request to a server the
 * attacker runs (§10.3). Here the sender is the API process, the frame's text is JSON it
 * writes (base64 payloads, escaped strings), and the peer is the broker. The mask bit stays
 * set, so the broker reads the frames as ever. Masking in JavaScript (ws without its native
 * helper) had cost 5 % of an API replica's CPU under load in a profile.
 */
const zeroMask = (mask: Buffer): void => {
  mask.fill(0);
};

const unavailable = (message: string, cause?: unknown) => new SluiceError('BUS_UNAVAILABLE', message, cause === undefined ? {} : { cause });

/**
 * The Pulsar EventBus over Pulsar's WebSocket API (`ws`): it runs wherever the broker's web
 * port is reachable, with no native library.
 * - publish: `producers` sockets per topic (the least busy takes each publish), LZ4 (and optional batching) at the producer, resolves when
 *   the broker answered `ok` for every message (the "200 means durable" contract).
 * - consume: a Shared subscription (Failover with `keyAffinity`) in pull mode; permits keep a consumer's unacknowledged
 *   messages within `maxUnacked`; nack is a delayed negative ack, and the delivery that
 *   reaches `maxRedeliver` is published to the dead-letter topic with its reason, then acked.
 */
export class PulsarWsBus implements EventBus {
  private readonly options: PulsarWsBusOptions;
  private readonly producers = new Map<string, Producer[]>();
  private readonly consumers = new Set<PulsarConsumer>();
  private closed = false;

  constructor(options: PulsarWsBusOptions) {
    this.options = options;
  }

  /** `persistent/tenant/namespace/topic`, as the WebSocket paths want it. */
  topicPath(output: OutputName): string {
    return `persistent/${this.options.tenant}/${this.options.namespace}/${this.options.topics[output]}`;
  }

  wsUrl(path: string, params: Record<string, string | number | boolean>): string {
    const url = new URL(`${this.options.webServiceUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/ws/v2/${path}`);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
    return url.toString();
  }

  headers(): Record<string, string> {
    return this.options.authToken ? { authorization: `Bearer ${this.options.authToken}` } : {};
  }

  get reconnectPolicy() {
    return { baseDelayMs: this.options.reconnectBaseDelayMs ?? 100, maxDelayMs: this.options.reconnectMaxDelayMs ?? 5000 };
  }

  async publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw unavailable('the bus is closed');
    if (messages.length === 0) return;
    await this.leastBusyProducer(this.topicPath(output)).send(messages);
  }

  private leastBusyProducer(path: string): Producer {
    let pool = this.producers.get(path);
    if (!pool) {
      pool = Array.from({ length: Math.max(1, this.options.producers ?? 1) }, () => new Producer(this, path, this.options));
      this.producers.set(path, pool);
    }
    return pool.reduce((best, producer) => (producer.waiting < best.waiting ? producer : best));
  }

  async consumer(output: OutputName, subscription: string, options: ConsumerOptions): Promise<Consumer> {
    if (this.closed) throw unavailable('the bus is closed');
    const consumer = new PulsarConsumer(this, this.topicPath(output), subscription, options, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    await consumer.connect();
    return consumer;
  }

  async health(): Promise<DependencyHealth> {
    try {
      const response = await fetch(`${this.options.webServiceUrl.replace(/\/$/, '')}/admin/v2/brokers/health`, { headers: this.headers(), signal: AbortSignal.timeout(3000) });
      const ok = response.ok && !this.closed;
      return { ok, adapter: 'pulsar', detail: { broker: response.ok ? 'ok' : `HTTP ${String(response.status)}`, transport: 'websocket', consumers: this.consumers.size } };
    } catch (error) {
      return { ok: false, adapter: 'pulsar', detail: { broker: (error as Error).message, transport: 'websocket' } };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.close()));
    await Promise.all([...this.producers.values()].flat().map((producer) => producer.close()));
    this.producers.clear();
  }
}

/** Waits for a socket to open; rejects on error or an unexpected HTTP answer. */
function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      socket.removeAllListeners('open');
      reject(error);
    };
    socket.once('open', () => {
      socket.removeListener('error', fail);
      resolve();
    });
    socket.once('error', fail);
    socket.once('unexpected-response', (_request, response) => fail(new Error(`HTTP ${String(response.statusCode)} ${response.statusMessage ?? ''}`.trim())));
  });
}

function closeSocket(socket: WebSocket | undefined): Promise<void> {
  if (!socket || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close();
  });
}

class Producer {
  private socket: WebSocket | undefined;
  private connecting: Promise<WebSocket> | undefined;
  private readonly pending = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private sequence = 0;
  private failures = 0;
  private readonly bus: PulsarWsBus;
  private readonly path: string;
  private readonly options: PulsarWsBusOptions;

  constructor(bus: PulsarWsBus, path: string, options: PulsarWsBusOptions) {
    this.bus = bus;
    this.path = path;
    this.options = options;
  }

  private connect(): Promise<WebSocket> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<WebSocket> {
    const url = this.bus.wsUrl(`producer/${this.path}`, {
      sendTimeoutMillis: this.options.sendTimeoutMs,
      batchingEnabled: this.options.batching ?? false,
      batchingMaxPublishDelay: 1,
      batchingMaxMessages: 1000,
      maxPendingMessages: 10_000,
      compressionType: this.options.compression ?? 'LZ4',
      // Keyed messages go to the partition `partitionOfKey` names (the grouping bus relies on it).
      hashingScheme: 'JavaStringHash',
      messageRoutingMode: 'RoundRobinPartition',
    });
    const socket = new WebSocket(url, { headers: this.bus.headers(), perMessageDeflate: false, generateMask: zeroMask });
    try {
      await opened(socket);
    } catch (error) {
      this.failures += 1;
      throw unavailable(`cannot open a Pulsar producer on ${this.path}: ${(error as Error).message}`, error);
    }
    this.failures = 0;
    socket.on('message', (data: Buffer) => this.onReply(data));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.failAll(unavailable(`the Pulsar producer connection to ${this.path} closed`));
    });
    this.socket = socket;
    return socket;
  }

  /** Messages sent and not yet answered by the broker. */
  get waiting(): number {
    return this.pending.size;
  }

  private onReply(data: Buffer): void {
    let reply: WsSendResult;
    try {
      reply = JSON.parse(data.toString('utf8')) as WsSendResult;
    } catch {
      return;
    }
    const waiter = reply.context === undefined ? undefined : this.pending.get(reply.context);
    if (!waiter || reply.context === undefined) return;
    this.pending.delete(reply.context);
    if (reply.result === 'ok') waiter.resolve();
    else waiter.reject(unavailable(`Pulsar refused the message: ${reply.result}${reply.errorMsg ? ` (${reply.errorMsg})` : ''}`));
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    // After failures, wait (with jitter) before trying the broker again.
    if (this.failures > 0) await sleep(backoffDelayMs(this.bus.reconnectPolicy, this.failures - 1));
    const socket = await this.connect();
    const acknowledged = messages.map((message) => {
      this.sequence += 1;
      const context = String(this.sequence);
      // Built around the base64 text rather than through JSON.stringify, which would scan it for characters to escape (it has none).
      const frame = `{"payload":"${Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength).toString('base64')}","properties":${JSON.stringify(message.properties ?? {})},"key":${JSON.stringify(message.key)},"context":"${context}"}`;
      return new Promise<void>((resolve, reject) => {
        this.pending.set(context, { resolve, reject });
        socket.send(frame, (error) => {
          if (!error) return;
          this.pending.delete(context);
          reject(unavailable(`could not send to Pulsar: ${error.message}`, error));
        });
      });
    });
    await Promise.all(acknowledged);
  }

  async close(): Promise<void> {
    await closeSocket(this.socket);
    this.failAll(unavailable('the bus is closed'));
  }
}

class PulsarConsumer implements Consumer {
  private socket: WebSocket | undefined;
  private readonly buffer: ReceivedMessage[] = [];
  /** Ids of the messages in `buffer`. */
  private readonly buffered = new Set<string>();
  /** Messages handed to the caller and not yet acked or nacked. */
  private readonly held = new Set<string>();
  private readonly deliveries = new DeliveryCounts();
  /** Permits sent and not yet used by a delivery. */
  private outstanding = 0;
  private failures = 0;
  private closed = false;
  private lastAckAt = 0;
  private wake: (() => void) | undefined;
  private readonly bus: PulsarWsBus;
  private readonly path: string;
  private readonly subscription: string;
  private readonly options: ConsumerOptions;
  private readonly onClose: () => void;

  constructor(bus: PulsarWsBus, path: string, subscription: string, options: ConsumerOptions, onClose: () => void) {
    this.bus = bus;
    this.path = path;
    this.subscription = subscription;
    this.options = options;
    this.onClose = onClose;
  }

  async connect(): Promise<void> {
    const url = this.bus.wsUrl(`consumer/${this.path}/${encodeURIComponent(this.subscription)}`, {
      subscriptionType: this.options.keyAffinity === true ? 'Failover' : 'Shared',
      subscriptionInitialPosition: 'Earliest',
      pullMode: true,
      receiverQueueSize: Math.max(1, Math.min(1000, this.options.maxUnacked)),
      negativeAckRedeliveryDelay: this.options.nackDelayMs,
    });
    const socket = new WebSocket(url, { headers: this.bus.headers(), perMessageDeflate: false });
    try {
      await opened(socket);
    } catch (error) {
      this.failures += 1;
      throw unavailable(`cannot subscribe to ${this.path} as ${this.subscription}: ${(error as Error).message}`, error);
    }
    this.failures = 0;
    this.outstanding = 0;
    socket.on('message', (data: Buffer) => this.onMessage(data));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.socket !== socket) return;
      // The broker gives what this connection held to other consumers (or to us again).
      this.socket = undefined;
      this.buffer.length = 0;
      this.buffered.clear();
      this.held.clear();
      this.outstanding = 0;
      this.wake?.();
    });
    this.socket = socket;
  }

  private onMessage(data: Buffer): void {
    let message: WsMessage;
    try {
      message = JSON.parse(data.toString('utf8')) as WsMessage;
    } catch {
      return;
    }
    if (typeof message.messageId !== 'string' || typeof message.payload !== 'string') return;
    this.outstanding = Math.max(0, this.outstanding - 1);
    // A copy of a message this consumer still holds: a Failover subscription redelivers every
    // unacknowledged message after a nack. The held copy's settlement covers both.
    if (this.held.has(message.messageId) || this.buffered.has(message.messageId)) return;
    this.buffered.add(message.messageId);
    const publishedAt = message.publishTime === undefined ? Number.NaN : Date.parse(message.publishTime);
    this.buffer.push({
      id: message.messageId,
      key: message.key ?? '',
      payload: Buffer.from(message.payload, 'base64'),
      properties: message.properties ?? {},
      redeliveryCount: this.deliveries.before(message.messageId, message.redeliveryCount ?? 0),
      ...(Number.isFinite(publishedAt) ? { publishedAt } : {}),
    });
    this.wake?.();
  }

  /** Asks the broker for as many messages as keep us within maxUnacked. */
  private topUp(): void {
    const room = this.options.maxUnacked - this.held.size - this.buffer.length - this.outstanding;
    if (room <= 0 || this.socket?.readyState !== WebSocket.OPEN) return;
    this.outstanding += room;
    this.socket.send(JSON.stringify({ type: 'permit', permitMessages: room }));
  }

  async receive(max: number, waitMs: number): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + waitMs;
    if (this.closed) return [];
    if (!this.socket) {
      if (this.failures > 0) await sleep(Math.min(backoffDelayMs(this.bus.reconnectPolicy, this.failures - 1), Math.max(0, deadline - Date.now())));
      try {
        await this.connect();
      } catch {
        return [];
      }
    }
    this.topUp();
    while (this.buffer.length === 0 && !this.closed && this.socket && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    const taken = this.buffer.splice(0, Math.max(0, max));
    for (const message of taken) this.buffered.delete(message.id);
    for (const message of taken) this.held.add(message.id);
    return taken;
  }

  private sendControl(frame: object): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.lastAckAt = Date.now();
    this.socket.send(JSON.stringify(frame));
  }

  async ack(message: ReceivedMessage): Promise<void> {
    if (!this.held.delete(message.id)) return;
    this.deliveries.settle(message.id);
    this.sendControl({ messageId: message.id });
  }

  async nack(message: ReceivedMessage, failure: DeliveryFailure): Promise<void> {
    if (!this.held.has(message.id)) return;
    if (message.redeliveryCount + 1 >= this.options.maxRedeliver) {
      await this.bus.publish('dead-letters', [deadLetterOf(message, failure, `${this.path} ${message.id}`, message.redeliveryCount + 1)]);
      this.held.delete(message.id);
      this.deliveries.settle(message.id);
      this.sendControl({ messageId: message.id });
      return;
    }
    this.held.delete(message.id);
    this.deliveries.nack(message.id, message.redeliveryCount + 1);
    this.sendControl({ type: 'negativeAcknowledge', messageId: message.id });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    // WebSocket acks are not confirmed, and the proxy's client groups them (100 ms): give
    // recent ones time to reach the broker before the connection goes.
    const linger = ACK_LINGER_MS - (Date.now() - this.lastAckAt);
    if (linger > 0) await sleep(linger);
    const socket = this.socket;
    this.socket = undefined;
    await closeSocket(socket);
    this.onClose();
  }
}
