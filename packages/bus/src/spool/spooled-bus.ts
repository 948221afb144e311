import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, backoffDelayMs, withTimeout } from '@sluice/core';
import type { DependencyHealth, Logger } from '@sluice/observability';
import type { EmbeddedBus } from '../embedded/embedded-bus.ts';
import type { Consumer, ConsumerOptions, EventBus, OutgoingMessage, OutputName, ReceivedMessage } from '../port.ts';

export interface SpoolOptions {
  /** Longest wait for the primary bus before a publish goes to the spool, in milliseconds. */
  readonly handoverMs: number;
  /** Most bytes the spool holds; a full spool refuses (503). */
  readonly maxBytes: number;
  /** Readiness fails once the spool is fuller than this fraction (0–1). */
  readonly readyBelow: number;
  /** After a primary failure, publishes go straight to the spool for this long, in milliseconds. */
  readonly openCircuitMs: number;
  readonly logger: Logger;
}

const FORWARD_BATCH = 100;
const FORWARDER = 'forwarder';

/**
 * An EventBus that keeps accepting while its primary (Pulsar) is unreachable: a publish the
 * primary does not acknowledge within `handoverMs` is written to a local durable log (the
 * embedded bus) instead, and a forwarder moves spooled messages to the primary, acking each
 * only after the primary acknowledged it. Either way a publish resolves only once the
 * messages are durable somewhere. A message can reach the primary twice (a late primary
 * acknowledgement after the handover); event ids make the store write idempotent.
 * Consumers read the primary only.
 */
export class SpooledBus implements EventBus {
  private readonly primary: EventBus;
  private readonly spool: EmbeddedBus;
  private readonly options: SpoolOptions;
  private circuitOpenUntil = 0;
  private closed = false;
  private readonly forwarding: Promise<void>;
  private wakeForwarder: (() => void) | undefined;
  private spooled = 0;
  private forwarded = 0;
  private readonly stopping = new AbortController();

  constructor(primary: EventBus, spool: EmbeddedBus, options: SpoolOptions) {
    this.primary = primary;
    this.spool = spool;
    this.options = options;
    this.forwarding = this.forwardLoop();
  }

  async publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new SluiceError('BUS_UNAVAILABLE', 'the bus is closed');
    if (Date.now() >= this.circuitOpenUntil) {
      const outcome = await withTimeout(this.options.handoverMs, () => this.primary.publish(output, messages).then(() => 'ok' as const, () => 'failed' as const), () => new Error('slow')).catch(() => 'slow' as const);
      if (outcome === 'ok') return;
      this.circuitOpenUntil = Date.now() + this.options.openCircuitMs;
      this.options.logger.warn({ outcome, output }, 'primary bus did not acknowledge; spooling locally');
    }
    await this.toSpool(output, messages);
  }

  private async toSpool(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.fill() >= 1) throw new SluiceError('BUS_UNAVAILABLE', `the local spool is full (${String(this.options.maxBytes)} bytes) and the primary bus is unavailable`);
    await this.spool.publish(output, messages);
    this.spooled += messages.length;
    this.wakeForwarder?.();
  }

  /** Fraction of the spool in use (0–1). */
  fill(): number {
    const bytes = this.spool.storedBytes('events') + this.spool.storedBytes('dead-letters');
    return bytes / this.options.maxBytes;
  }

  private async forwardLoop(): Promise<void> {
    const consumers = await Promise.all((['events', 'dead-letters'] as const).map(async (output) => ({ output, consumer: await this.spool.consumer(output, FORWARDER, { maxUnacked: FORWARD_BATCH, maxRedeliver: 1_000_000, nackDelayMs: 1000 }) })));
    let failures = 0;
    while (!this.closed) {
      let moved = 0;
      for (const { output, consumer } of consumers) {
        const messages = await consumer.receive(FORWARD_BATCH, 0);
        if (messages.length === 0) continue;
        try {
          await this.primary.publish(output, messages.map(toOutgoing));
          for (const message of messages) await consumer.ack(message);
          moved += messages.length;
          this.forwarded += messages.length;
          failures = 0;
          this.circuitOpenUntil = 0;
        } catch (error) {
          for (const message of messages) await consumer.nack(message, { code: 'BUS_UNAVAILABLE', reason: (error as Error).message });
          failures += 1;
          await sleep(backoffDelayMs({ baseDelayMs: 200, maxDelayMs: 10_000 }, failures - 1), undefined, { signal: this.stopping.signal }).catch(() => undefined);
        }
      }
      if (moved === 0 && !this.closed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 500);
          this.wakeForwarder = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeForwarder = undefined;
      }
    }
    for (const { consumer } of consumers) await consumer.close();
  }

  consumer(output: OutputName, subscription: string, options: ConsumerOptions): Promise<Consumer> {
    return this.primary.consumer(output, subscription, options);
  }

  async health(): Promise<DependencyHealth> {
    const primary = await this.primary.health();
    const fill = this.fill();
    const spoolHealth = await this.spool.health();
    const backlog = (spoolHealth.detail?.['subscriptions'] as Record<string, { backlog?: number }> | undefined) ?? {};
    const waiting = Object.values(backlog).reduce((sum, entry) => sum + (entry.backlog ?? 0), 0);
    // Ready while events can be accepted durably: by the primary, or by a spool with room.
    const ok = fill < this.options.readyBelow && (primary.ok || fill < 1);
    return {
      ok,
      adapter: primary.adapter,
      detail: { ...primary.detail, primaryOk: primary.ok, spool: { fill: Number(fill.toFixed(4)), maxBytes: this.options.maxBytes, waiting, spooled: this.spooled, forwarded: this.forwarded } },
      ...(ok ? {} : { error: fill >= this.options.readyBelow ? `the local spool is ${(fill * 100).toFixed(0)} % full` : 'primary bus unavailable' }),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopping.abort();
    this.wakeForwarder?.();
    await this.forwarding.catch(() => undefined);
    await this.primary.close();
    await this.spool.close();
  }
}

function toOutgoing(message: ReceivedMessage): OutgoingMessage {
  return { key: message.key, payload: message.payload, properties: message.properties };
}
