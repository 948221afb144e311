import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, decodeEventsMessage, encodeDeadLetter, isRetryable, isSluiceError, messageDeadLetter, DEAD_LETTER_VERSION, type DeadLetter, type ErrorCode } from '@sluice/core';
import { DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN, DEAD_LETTER_REASON, type Consumer, type EventBus, type ReceivedMessage } from '@sluice/bus';
import type { Config } from '@sluice/config';
import type { DependencyHealth, HealthCheck, Logger, Metrics } from '@sluice/observability';
import type { EventSink, WriteOutcome } from '@sluice/store';
import { EventBuffer, type HeldMessage, type PendingEvent } from './batch.ts';
import { stepAfterFailure } from './isolation.ts';
import { profileAndSessionUpdates } from './profiles.ts';

export interface WorkerDeps {
  readonly bus: EventBus;
  readonly store: EventSink;
  readonly config: { readonly worker: Config['worker']; readonly bus: Pick<Config['bus'], 'subscription' | 'maxRedeliver' | 'nackDelayMs'>; readonly track: Pick<Config['track'], 'maxEvents'> };
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** A failure of a store write, classified once. */
interface Failure {
  readonly code: ErrorCode;
  readonly reason: string;
  readonly retryable: boolean;
}

/** How one group of events ended: written (stored or dead-lettered), handed back to the bus, or left for shutdown. */
type GroupResult = { readonly step: 'done' } | { readonly step: 'split' | 'nack'; readonly failure: Failure } | { readonly step: 'abandoned' };

const RECEIVE_WAIT_MS = 100;
/** Receive wait while every write slot is taken: short, so a finished write is noticed at once. */
const BUSY_RECEIVE_WAIT_MS = 5;
/** Longest dead-letter reason kept in a message header (the body keeps it whole). */
const MAX_HEADER_REASON = 1000;

/**
 * The storage worker: consume → decode (a message that is not a valid events message is
 * dead-lettered as received, at once) → batch (STORAGE_BATCH_SIZE or STORAGE_FLUSH_INTERVAL)
 * → one idempotent store write → ack. Up to STORAGE_CONCURRENCY batches are written at once.
 *
 * Failures (see `stepAfterFailure`): events the store refuses are dead-lettered one by one
 * and their neighbours stored; a write that throws is retried with backoff while the store
 * is unhealthy (an outage: the worker stops taking messages, memory stays bounded by the
 * batches in flight plus one filling batch and one message, nothing is nacked); a write
 * that fails permanently, or keeps failing while the store is healthy, is split until the
 * message that causes it stands alone, and that message is nacked with the reason — the
 * bus dead-letters it after BUS_MAX_REDELIVER deliveries — while the rest is stored and
 * acknowledged. A message is acknowledged only once every event of it is stored or
 * dead-lettered.
 */
export class StorageWorker implements HealthCheck {
  private readonly buffer = new EventBuffer();
  private consumer: Consumer | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private abandon = false;
  /** Events of the batches being written. */
  private writing = 0;
  /** When a message was last acknowledged, nacked or dead-lettered (ms since the epoch). */
  private lastProgressAt = Date.now();

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

  /**
   * Not ready while stalled: holding events and settling no message for two of its longest
   * retry delays (STORAGE_RETRY_MAX_DELAY × 2) — a store outage, or a failure not yet isolated.
   */
  async health(): Promise<DependencyHealth> {
    const sinceProgressMs = Date.now() - this.lastProgressAt;
    const stalled = this.heldEvents > 0 && sinceProgressMs > this.stallAfterMs;
    this.deps.metrics.workerStalled.set(stalled ? 1 : 0);
    const detail = { heldEvents: this.heldEvents, sinceProgressMs };
    return stalled ? { ok: false, adapter: 'storage-worker', detail, error: `no message settled for ${Math.round(sinceProgressMs / 1000)} s while holding ${this.heldEvents} events` } : { ok: true, adapter: 'storage-worker', detail };
  }

  private get stallAfterMs(): number {
    return 2 * this.deps.config.worker.retryMaxDelayMs;
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

  /** Decodes one message into the buffer; one that can never be decoded is dead-lettered as received and acknowledged. */
  private async accept(consumer: Consumer, message: ReceivedMessage): Promise<void> {
    const decoded = decodeEventsMessage(message.payload);
    if (!decoded.ok) {
      const letter = messageDeadLetter(message, { code: 'MESSAGE_INVALID', reason: decoded.reason, origin: `${this.deps.config.bus.subscription} ${message.id}`, attempts: message.redeliveryCount + 1 });
      await this.publishDeadLetters([letter]);
      await this.settle(consumer, message, 'ack');
      return;
    }
    if (decoded.events.length === 0) {
      await this.settle(consumer, message, 'ack');
      return;
    }
    this.buffer.add(message, decoded.events, Date.now());
  }

  /**
   * Writes one batch: each group until it is done, split, or its message nacked (see the
   * class comment); then acknowledges the messages whose events are all settled. Events of a
   * message nacked meanwhile (by another group) are skipped: it comes back whole.
   */
  private async writeBatch(consumer: Consumer, batch: PendingEvent[]): Promise<void> {
    this.deps.metrics.batchSize.observe(batch.length);
    const groups: PendingEvent[][] = [batch];
    for (let group = groups.shift(); group !== undefined; group = groups.shift()) {
      const live = group.filter((pending) => !pending.holder.failed);
      if (live.length === 0) continue;
      const result = await this.writeGroup(live);
      if (result.step === 'abandoned') return;
      if (result.step === 'split') groups.unshift(...splitByMessage(live));
      else if (result.step === 'nack') await this.nackMessages(consumer, live, result.failure);
      else await this.ackCompleted(consumer, live);
    }
  }

  /** Writes one group until nothing in it is left to retry, or its failure calls for a split or a nack. */
  private async writeGroup(group: PendingEvent[]): Promise<GroupResult> {
    const { retryBaseDelayMs, retryMaxDelayMs, isolateAfter } = this.deps.config.worker;
    let remaining = group;
    for (let failures = 0; ; ) {
      try {
        remaining = await this.writeOnce(remaining);
        if (remaining.length === 0) return { step: 'done' };
        // The store answered but asked to retry some events (429, overload): not poison.
        this.deps.logger.warn({ retry: remaining.length }, 'store asked to retry some events');
      } catch (error) {
        failures += 1;
        const failure = failureOf(error);
        const storeHealthy = failure.retryable && failures >= isolateAfter ? await this.storeHealthy() : false;
        const step = stepAfterFailure({ messages: messagesIn(remaining), retryable: failure.retryable, failures, isolateAfter, storeHealthy });
        this.deps.logger.warn({ code: failure.code, reason: failure.reason, failures, events: remaining.length, step }, 'store write failed');
        if (step !== 'retry') return { step, failure };
      }
      if (this.abandon) return { step: 'abandoned' };
      this.deps.metrics.storeRetries.inc();
      await sleep(backoffDelayMs({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs }, failures));
      if (this.abandon) return { step: 'abandoned' };
    }
  }

  /** One write: settles (stores or dead-letters) what it can; returns the events to retry. */
  private async writeOnce(remaining: PendingEvent[]): Promise<PendingEvent[]> {
    const events = remaining.map((pending) => pending.event);
    const outcomes = await this.deps.store.writeBatch({ events, ...profileAndSessionUpdates(events) });
    const retry: PendingEvent[] = [];
    const rejected: { pending: PendingEvent; outcome: Extract<WriteOutcome, { status: 'rejected' }> }[] = [];
    remaining.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined || outcome.status === 'retryable') retry.push(pending);
      else if (outcome.status === 'rejected') rejected.push({ pending, outcome });
      else {
        this.deps.metrics.eventsStored.inc({ outcome: outcome.status });
        pending.holder.pendingEvents -= 1;
      }
    });
    if (rejected.length > 0) {
      const failedAt = new Date().toISOString();
      await this.publishDeadLetters(
        rejected.map(({ pending, outcome }): DeadLetter => ({ v: DEAD_LETTER_VERSION, kind: 'event', code: outcome.code, reason: outcome.reason, origin: `${this.deps.config.bus.subscription} ${pending.holder.message.id}`, attempts: pending.holder.message.redeliveryCount + 1, failedAt, event: pending.event })),
      );
      for (const { pending } of rejected) pending.holder.pendingEvents -= 1;
    }
    return retry;
  }

  private async storeHealthy(): Promise<boolean> {
    try {
      return (await this.deps.store.health()).ok;
    } catch {
      return false;
    }
  }

  /** Publishes dead letters, retrying while the bus is unavailable; throws only when shutdown abandons them. */
  private async publishDeadLetters(letters: readonly DeadLetter[]): Promise<void> {
    const { retryBaseDelayMs, retryMaxDelayMs } = this.deps.config.worker;
    const messages = letters.map((letter) => ({
      key: letter.kind === 'event' ? letter.event.profileId : letter.message.key,
      payload: encodeDeadLetter(letter),
      properties: { [DEAD_LETTER_REASON]: letter.reason.slice(0, MAX_HEADER_REASON), [DEAD_LETTER_CODE]: letter.code, [DEAD_LETTER_ORIGIN]: letter.origin },
    }));
    for (let failures = 0; ; failures += 1) {
      try {
        await this.deps.bus.publish('dead-letters', messages);
        break;
      } catch (error) {
        this.deps.logger.warn({ err: error, failures }, 'could not publish dead letters; retrying');
      }
      if (this.abandon) throw new Error('shutdown abandoned a dead-letter publish');
      await sleep(backoffDelayMs({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs }, failures));
    }
    for (const letter of letters) this.deps.metrics.eventsDeadLettered.inc({ code: letter.code, kind: letter.kind });
    this.deps.logger.warn({ count: letters.length, codes: [...new Set(letters.map((letter) => letter.code))] }, 'dead-lettered');
  }

  /** Hands the group's messages back to the bus with the failure; they come back whole (or go to the dead letters). */
  private async nackMessages(consumer: Consumer, group: readonly PendingEvent[], failure: Failure): Promise<void> {
    for (const holder of new Set<HeldMessage>(group.map((pending) => pending.holder))) {
      holder.failed = true;
      this.deps.metrics.messagesNacked.inc({ code: failure.code });
      // The bus dead-letters a message on its last allowed delivery; count it here, where the code is known.
      if (holder.message.redeliveryCount + 1 >= this.deps.config.bus.maxRedeliver) this.deps.metrics.eventsDeadLettered.inc({ code: failure.code, kind: 'message' });
      this.deps.logger.warn({ message: holder.message.id, deliveries: holder.message.redeliveryCount + 1, code: failure.code, reason: failure.reason }, 'message isolated and nacked');
      await this.settle(consumer, holder.message, 'nack', failure);
    }
  }

  private async ackCompleted(consumer: Consumer, group: readonly PendingEvent[]): Promise<void> {
    for (const holder of new Set<HeldMessage>(group.map((pending) => pending.holder))) {
      if (holder.pendingEvents === 0 && !holder.failed) await this.settle(consumer, holder.message, 'ack');
    }
  }

  private async settle(consumer: Consumer, message: ReceivedMessage, how: 'ack' | 'nack', failure?: Failure): Promise<void> {
    if (how === 'ack') await consumer.ack(message);
    else await consumer.nack(message, { code: failure?.code ?? 'INTERNAL', reason: failure?.reason ?? 'failed' });
    this.lastProgressAt = Date.now();
    this.deps.metrics.workerLastProgress.set(this.lastProgressAt / 1000);
  }
}

/** Classifies a thrown error once: catalogue errors say what they are; anything else is a bug or bad data, never retried blindly. */
function failureOf(error: unknown): Failure {
  if (isSluiceError(error)) return { code: error.code, reason: error.message, retryable: isRetryable(error) };
  return { code: 'INTERNAL', reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error), retryable: false };
}

function messagesIn(group: readonly PendingEvent[]): number {
  return new Set(group.map((pending) => pending.holder)).size;
}

/** Two halves of a group, cut between messages (a message's events stay together). */
function splitByMessage(group: readonly PendingEvent[]): PendingEvent[][] {
  const holders = [...new Set(group.map((pending) => pending.holder))];
  const firstHalf = new Set(holders.slice(0, Math.ceil(holders.length / 2)));
  return [group.filter((pending) => firstHalf.has(pending.holder)), group.filter((pending) => !firstHalf.has(pending.holder))];
}


