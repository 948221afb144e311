import type { DependencyHealth, Metrics } from '@sluice/observability';
import type { BacklogReader, Consumer, ConsumerOptions, EventBus, OutgoingMessage, OutputName, ReceivedMessage } from '../port.ts';

export interface MeteredBusOptions {
  /** The process's metrics: `busPublish`, `busConsumerLag` and `busBacklog` are fed here. */
  readonly metrics: Pick<Metrics, 'busPublish' | 'busConsumerLag' | 'busBacklog' | 'addBacklogReader'>;
  /** Named outputs → topic names: the `topic` label (configured, so bounded). */
  readonly topics: Readonly<Record<OutputName, string>>;
  /** Where the backlog gauge is read from, where the bus can count (embedded log, Pulsar admin stats). */
  readonly backlog?: BacklogReader;
  /** Wall clock, ms since the epoch (the bus's publish times are wall-clock too). */
  readonly now?: () => number;
}

/**
 * The bus as its callers see it, measured: wraps the outermost EventBus of a process (above
 * the spool and the grouping), so that every publisher — `/track`, the Segment routes, the
 * worker's dead letters, replays — is timed once, as it waits, without each caller knowing.
 *
 * - `sluice_bus_publish_seconds{topic,outcome}`: each `publish` call until it resolves
 *   (`ok`) or rejects (`error`); a grouped request is timed until its group is durable.
 * - `sluice_bus_consumer_lag_seconds{topic,subscription}`: on each receive, the age of its
 *   oldest message (now − publish time; 0 when the receive found nothing). Redelivered
 *   messages keep their first publish time, so a message coming back after a nack shows its
 *   full age. Present from the first consumer of a subscription until its last one closes.
 * - `sluice_bus_backlog_messages{topic,subscription}`: read from `backlog` at scrape time for
 *   each subscription a consumer is open on; absent while the reader cannot tell.
 *
 * Measuring never changes what the bus does: the wrapped calls' results and errors pass
 * through unchanged.
 */
export class MeteredBus implements EventBus {
  /** Open consumers per subscription key (`output/subscription`). */
  private readonly openConsumers = new Map<string, { readonly output: OutputName; readonly subscription: string; count: number }>();
  private stopReadingBacklog: (() => void) | undefined;
  private readonly inner: EventBus;
  private readonly options: MeteredBusOptions;

  constructor(inner: EventBus, options: MeteredBusOptions) {
    this.inner = inner;
    this.options = options;
  }

  async publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    const startedAt = performance.now();
    const topic = this.options.topics[output];
    try {
      await this.inner.publish(output, messages);
    } catch (error) {
      this.options.metrics.busPublish.observe({ topic, outcome: 'error' }, (performance.now() - startedAt) / 1000);
      throw error;
    }
    this.options.metrics.busPublish.observe({ topic, outcome: 'ok' }, (performance.now() - startedAt) / 1000);
  }

  async consumer(output: OutputName, subscription: string, consumerOptions: ConsumerOptions): Promise<Consumer> {
    const inner = await this.inner.consumer(output, subscription, consumerOptions);
    const labels = { topic: this.options.topics[output], subscription };
    const lag = this.options.metrics.busConsumerLag;
    const now = this.options.now ?? Date.now;
    this.opened(output, subscription);
    lag.set(labels, 0);
    let closed = false;
    return {
      receive: async (max: number, waitMs: number) => {
        const messages = await inner.receive(max, waitMs);
        const seconds = lagSeconds(messages, now());
        if (seconds !== undefined && !closed) lag.set(labels, seconds);
        return messages;
      },
      ack: (message: ReceivedMessage) => inner.ack(message),
      nack: (message, failure) => inner.nack(message, failure),
      close: async () => {
        if (!closed) {
          closed = true;
          this.closed(output, subscription);
        }
        await inner.close();
      },
    };
  }

  health(): Promise<DependencyHealth> {
    return this.inner.health();
  }

  async close(): Promise<void> {
    this.stopReadingBacklog?.();
    this.stopReadingBacklog = undefined;
    await this.inner.close();
  }

  private opened(output: OutputName, subscription: string): void {
    const key = `${output}/${subscription}`;
    const open = this.openConsumers.get(key);
    if (open !== undefined) open.count += 1;
    else this.openConsumers.set(key, { output, subscription, count: 1 });
    const reader = this.options.backlog;
    if (reader !== undefined) this.stopReadingBacklog ??= this.options.metrics.addBacklogReader(() => this.readBacklogs(reader));
  }

  /** The last consumer of a subscription closed: its gauges go (they would only go stale). */
  private closed(output: OutputName, subscription: string): void {
    const key = `${output}/${subscription}`;
    const open = this.openConsumers.get(key);
    if (open === undefined) return;
    open.count -= 1;
    if (open.count > 0) return;
    this.openConsumers.delete(key);
    const labels = { topic: this.options.topics[output], subscription };
    this.options.metrics.busConsumerLag.remove(labels);
    this.options.metrics.busBacklog.remove(labels);
  }

  private async readBacklogs(reader: BacklogReader): Promise<void> {
    await Promise.all(
      [...this.openConsumers.values()].map(async ({ output, subscription }) => {
        const labels = { topic: this.options.topics[output], subscription };
        const backlog = await reader.backlog(output, subscription).catch(() => undefined);
        if (backlog === undefined) this.options.metrics.busBacklog.remove(labels);
        else this.options.metrics.busBacklog.set(labels, backlog);
      }),
    );
  }
}

/**
 * The lag a receive shows, seconds: the age of its oldest message (never below 0: the
 * publisher's clock may run ahead); 0 for a receive that found nothing waiting; undefined
 * when no message carries a publish time.
 */
export function lagSeconds(messages: readonly Pick<ReceivedMessage, 'publishedAt'>[], nowMs: number): number | undefined {
  if (messages.length === 0) return 0;
  let oldest: number | undefined;
  for (const { publishedAt } of messages) if (publishedAt !== undefined && (oldest === undefined || publishedAt < oldest)) oldest = publishedAt;
  return oldest === undefined ? undefined : Math.max(0, nowMs - oldest) / 1000;
}
