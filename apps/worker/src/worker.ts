import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, decodeBatch, isRetryable, type TrackedEvent } from '@sluice/core';
import { DEAD_LETTER_CODE, DEAD_LETTER_REASON, type Consumer, type EventBus, type ReceivedMessage } from '@sluice/bus';
import type { Config } from '@sluice/config';
import type { Logger, Metrics } from '@sluice/observability';
import type { EventStore, WriteOutcome } from '@sluice/store';
import { EventBuffer, type HeldMessage, type PendingEvent } from './batch.ts';
import { profileAndSessionUpdates } from './profiles.ts';

export interface WorkerDeps {
  readonly bus: EventBus;
  readonly store: EventStore;
  readonly config: { readonly worker: Config['worker']; readonly bus: Pick<Config['bus'], 'subscription' | 'maxRedeliver' | 'nackDelayMs'>; readonly track: Pick<Config['track'], 'maxEvents'> };
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** What a dead letter carries: the event (or raw payload) and why it can never be stored. */
export interface DeadLetter {
  readonly code: string;
  readonly reason: string;
  readonly failedAt: string;
  readonly event?: TrackedEvent;
  readonly raw?: string;
}

const RECEIVE_WAIT_MS = 100;
/** Receive wait while every write slot is taken: short, so a finished write is noticed at once. */
const BUSY_RECEIVE_WAIT_MS = 5;

/**
 * The storage worker: consume → batch (STORAGE_BATCH_SIZE or STORAGE_FLUSH_INTERVAL) →
 * one idempotent store write → ack. Up to STORAGE_CONCURRENCY batches are written at once
 * (one batch's upserts overlap the next batch's bulk). Retryable failures are retried with
 * backoff and jitter while the worker stops taking messages (memory stays bounded by the
 * batches in flight plus one filling batch and one message); permanent failures are
 * dead-lettered with the reason before the ack.
 */
export class StorageWorker {
  private readonly buffer = new EventBuffer();
  private consumer: Consumer | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private abandon = false;
  /** Events of the batches being written. */
  private writing = 0;

  private readonly deps: WorkerDeps;

  constructor(deps: WorkerDeps) {
    this.deps = deps;
  }

  /** Most events held in memory at once: the batches in flight, one filling batch and the largest message, less one. */
  get maxHeldEvents(): number {
    const { batchSize, concurrency } = this.deps.config.worker;
    return concurrency * batchSize + batchSize + this.deps.config.track.maxEvents - 1;
  }

  get heldEvents(): number {
    return this.buffer.size + this.writing;
  }

  async start(): Promise<void> {
    const { bus, config } = this.deps;
    this.consumer = await bus.consumer('events', config.bus.subscription, {
      maxUnacked: config.worker.batchSize * (config.worker.concurrency + 1),
      maxRedeliver: config.bus.maxRedeliver,
      nackDelayMs: config.bus.nackDelayMs,
    });
    this.loop = this.run(this.consumer).catch((error: unknown) => {
      this.deps.logger.fatal({ err: error }, 'storage worker loop crashed');
      throw error;
    });
  }

  /**
   * Stops taking messages, flushes what is buffered (retrying until `deadlineMs` from now),
   * then closes the consumer; anything not written stays unacked on the bus. Idempotent.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    this.stopping = true;
    const timer = setTimeout(() => {
      this.abandon = true;
    }, deadlineMs);
    try {
      await this.loop?.catch(() => undefined);
      await this.consumer?.close();
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(consumer: Consumer): Promise<void> {
    const { batchSize, flushIntervalMs, concurrency } = this.deps.config.worker;
    const inFlight = new Set<Promise<void>>();
    const launch = (batch: PendingEvent[]) => {
      this.writing += batch.length;
      const writing: Promise<void> = this.writeBatch(consumer, batch).finally(() => {
        this.writing -= batch.length;
        inFlight.delete(writing);
      });
      inFlight.add(writing);
    };
    while (!this.stopping) {
      // At most `concurrency` batches are written at once; the next one is received and
      // decoded meanwhile (briefly polling, so a finished write is noticed at once).
      const busy = inFlight.size >= concurrency;
      if (busy && this.buffer.size >= batchSize) {
        await Promise.race(inFlight);
        continue;
      }
      await this.fill(consumer, busy ? BUSY_RECEIVE_WAIT_MS : RECEIVE_WAIT_MS);
      const now = Date.now();
      if (inFlight.size < concurrency && (this.buffer.size >= batchSize || (this.buffer.size > 0 && this.buffer.ageMs(now) >= flushIntervalMs))) launch(this.buffer.take(batchSize, now));
    }
    await Promise.all(inFlight);
    while (this.buffer.size > 0 && !this.abandon) await this.writeBatch(consumer, this.buffer.take(batchSize, Date.now()));
    this.buffer.clear();
    this.deps.metrics.workerInFlight.set(0);
  }

  /** Receives messages until a batch is full or the flush interval of the oldest event is reached. */
  private async fill(consumer: Consumer, maxWaitMs: number): Promise<void> {
    const { batchSize, flushIntervalMs } = this.deps.config.worker;
    if (this.buffer.size >= batchSize) return;
    const waitMs = this.buffer.size === 0 ? maxWaitMs : Math.max(1, Math.min(maxWaitMs, flushIntervalMs - this.buffer.ageMs(Date.now())));
    const messages = await consumer.receive(this.messagesToAsk(), waitMs);
    for (const message of messages) await this.accept(consumer, message);
    this.deps.metrics.workerInFlight.set(this.buffer.size + this.writing);
  }

  /**
   * How many messages to ask for so the buffer never exceeds one batch plus one message:
   * a message carries at most TRACK_MAX_EVENTS events.
   */
  private messagesToAsk(): number {
    const missing = this.deps.config.worker.batchSize - this.buffer.size;
    return Math.max(1, Math.floor(missing / this.deps.config.track.maxEvents));
  }

  private async accept(consumer: Consumer, message: ReceivedMessage): Promise<void> {
    const events = decode(message);
    if (events === undefined) {
      await this.deadLetterAll([{ code: 'VALIDATION_FAILED', reason: 'message payload is not an event batch', failedAt: new Date().toISOString(), raw: message.payload.toString('base64') }]);
      await consumer.ack(message);
      return;
    }
    if (events.length === 0) {
      await consumer.ack(message);
      return;
    }
    this.buffer.add(message, events, Date.now());
  }

  /**
   * Writes one batch until every event is stored or dead-lettered and the profiles and
   * sessions it implies are upserted — the two side by side, as they touch different
   * indices — then acks completed messages. An event the store rejects still counts as
   * activity of its profile and session.
   */
  private async writeBatch(consumer: Consumer, batch: PendingEvent[]): Promise<void> {
    this.deps.metrics.batchSize.observe(batch.length);
    const stored: TrackedEvent[] = [];
    const updates = profileAndSessionUpdates(batch.map((pending) => pending.event));
    const { store } = this.deps;
    if (store.writeBatch !== undefined) {
      // One round trip: events and updates in one request; a retry sends the updates again
      // (merging an update already written changes nothing).
      const written = await this.retrying('write batch', batch, (remaining) => this.writeOnce(remaining, stored, (events) => store.writeBatch!({ events, ...updates })));
      if (written) await this.ackCompleted(consumer, batch);
      return;
    }
    const [written, upserted] = await Promise.all([
      this.retrying('write events', batch, (remaining) => this.writeOnce(remaining, stored, (events) => store.writeEvents(events))),
      this.retrying('upsert profiles and sessions', [updates], async () => {
        await Promise.all([store.upsertProfiles(updates.profiles), store.upsertSessions(updates.sessions)]);
        return [];
      }),
    ]);
    if (written && upserted) await this.ackCompleted(consumer, batch);
  }

  /** One write attempt: stores (into `stored`) or dead-letters what it can; returns what to retry. */
  private async writeOnce(remaining: PendingEvent[], stored: TrackedEvent[], write: (events: TrackedEvent[]) => Promise<WriteOutcome[]>): Promise<PendingEvent[]> {
    const outcomes = await write(remaining.map((pending) => pending.event));
    const retry: PendingEvent[] = [];
    const rejected: { pending: PendingEvent; outcome: Extract<WriteOutcome, { status: 'rejected' }> }[] = [];
    remaining.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined || outcome.status === 'retryable') retry.push(pending);
      else if (outcome.status === 'rejected') rejected.push({ pending, outcome });
      else {
        this.deps.metrics.eventsStored.inc({ outcome: outcome.status });
        stored.push(pending.event);
        pending.holder.pendingEvents -= 1;
      }
    });
    if (rejected.length > 0) {
      const failedAt = new Date().toISOString();
      await this.deadLetterAll(rejected.map(({ pending, outcome }) => ({ code: outcome.code, reason: outcome.reason, failedAt, event: pending.event })));
      for (const { pending } of rejected) pending.holder.pendingEvents -= 1;
    }
    return retry;
  }

  /**
   * Runs `attempt` until it has nothing left to retry, with exponential backoff and jitter;
   * a throw retries everything that remained. False when shutdown abandoned the work.
   */
  private async retrying<T>(what: string, items: T[], attempt: (remaining: T[]) => Promise<T[]>): Promise<boolean> {
    const { retryBaseDelayMs, retryMaxDelayMs } = this.deps.config.worker;
    let remaining = items;
    for (let failures = 0; ; failures += 1) {
      try {
        remaining = await attempt(remaining);
        if (remaining.length === 0) return true;
        this.deps.logger.warn({ what, retry: remaining.length, failures }, 'store asked to retry some items');
      } catch (error) {
        if (isRetryable(error)) this.deps.logger.warn({ err: error, what, failures }, 'store unavailable; retrying');
        else this.deps.logger.error({ err: error, what, failures }, 'unexpected non-retryable failure; retrying so nothing is lost');
      }
      if (this.abandon) return false;
      this.deps.metrics.storeRetries.inc();
      await sleep(backoffDelayMs({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs }, failures));
      if (this.abandon) return false;
    }
  }

  private async deadLetterAll(letters: DeadLetter[]): Promise<void> {
    for (const letter of letters) this.deps.metrics.eventsDeadLettered.inc({ code: letter.code });
    const messages = letters.map((letter) => ({
      key: letter.event?.profileId ?? 'unknown',
      payload: Buffer.from(JSON.stringify(letter)),
      properties: { [DEAD_LETTER_REASON]: letter.reason.slice(0, 1000), [DEAD_LETTER_CODE]: letter.code },
    }));
    const published = await this.retrying('publish dead letters', [messages], async () => {
      await this.deps.bus.publish('dead-letters', messages);
      return [];
    });
    if (!published) throw new Error('shutdown abandoned a dead-letter publish');
    this.deps.logger.warn({ count: letters.length, codes: [...new Set(letters.map((letter) => letter.code))] }, 'events dead-lettered');
  }

  private async ackCompleted(consumer: Consumer, batch: PendingEvent[]): Promise<void> {
    const holders = new Set<HeldMessage>(batch.map((pending) => pending.holder));
    for (const holder of holders) if (holder.pendingEvents === 0) await consumer.ack(holder.message);
  }
}

function decode(message: ReceivedMessage): TrackedEvent[] | undefined {
  try {
    return decodeBatch(JSON.parse(message.payload.toString('utf8')));
  } catch {
    return undefined;
  }
}
