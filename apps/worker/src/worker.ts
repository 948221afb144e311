import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, decodeEventsMessage, encodeDeadLetter, isRetryable, isSluiceError, messageDeadLetter, DEAD_LETTER_VERSION, type DeadLetter, type ErrorCode } from '@sluice/core';
import { DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN, DEAD_LETTER_REASON, type Consumer, type EventBus, type ReceivedMessage } from '@sluice/bus';
import type { Config } from '@sluice/config';
import type { DependencyHealth, HealthCheck, Logger, Metrics } from '@sluice/observability';
import type { EventSink, WriteOutcome } from '@sluice/store';
import { EventBuffer, settleEvent, type HeldMessage, type PendingEvent } from './batch.ts';
import { stepAfterFailure } from './isolation.ts';
import { profileAndSessionUpdates } from './profiles.ts';
import { secondsSince } from './timing.ts';

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

/** A part of a batch being written, and what the isolation needs to know of it. */
interface Group {
  readonly events: PendingEvent[];
  /** The batch's count of successful writes when this group was formed. */
  readonly bornAfterWrites: number;
  /** A whole batch not yet split. */
  readonly probe: boolean;
  /** When this group's events first failed together (ms since the epoch). */
  readonly failingSince: number | undefined;
}

/** How writing one group ended: every event settled, a failure to decide on, or left for shutdown. */
type GroupResult =
  | { readonly step: 'done'; readonly settledAny: boolean }
  | { readonly step: 'abandoned'; readonly settledAny: boolean }
  | { readonly step: 'failed'; readonly failure: Failure; readonly remaining: PendingEvent[]; readonly settledAny: boolean };

/** Shutdown gave up on work in progress: what was not written stays on the bus. */
class AbandonedError extends Error {}

const RECEIVE_WAIT_MS = 100;
/** Longest wait between two subscription attempts, ms. */
const SUBSCRIBE_MAX_DELAY_MS = 5000;
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
  /** Why the last subscription attempt failed, while none succeeded. */
  private subscribeFailure: string | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private abandon = false;
  /** Aborted when shutdown abandons the work: wakes every backoff wait at once. */
  private readonly abandoned = new AbortController();
  /** Events of the batches being written. */
  private writing = 0;
  /** When a message was last acknowledged, nacked or dead-lettered (ms since the epoch). */
  private lastProgressAt = Date.now();
  /** When each batch being written was started. */
  private readonly batchesWriting = new Set<{ readonly at: number }>();

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
   * Not ready while stalled for two of its longest retry delays (STORAGE_RETRY_MAX_DELAY × 2):
   * holding events and settling no message, or one batch still being written (with
   * STORAGE_CONCURRENCY > 1 the others may progress) — a store outage, or a failure not yet
   * isolated.
   */
  async health(): Promise<DependencyHealth> {
    if (this.consumer === undefined) return { ok: false, adapter: 'storage-worker', detail: { subscribed: false }, error: `not subscribed to the events yet${this.subscribeFailure === undefined ? '' : `: ${this.subscribeFailure}`}` };
    const now = Date.now();
    const sinceProgressMs = now - this.lastProgressAt;
    const oldestBatchMs = Math.max(0, ...[...this.batchesWriting].map((batch) => now - batch.at));
    const stalled = (this.heldEvents > 0 && sinceProgressMs > this.stallAfterMs) || oldestBatchMs > this.stallAfterMs;
    this.deps.metrics.workerStalled.set(stalled ? 1 : 0);
    const detail = { heldEvents: this.heldEvents, sinceProgressMs, oldestBatchMs };
    return stalled ? { ok: false, adapter: 'storage-worker', detail, error: `no progress: ${Math.round(sinceProgressMs / 1000)} s since a message was settled, a batch written for ${Math.round(oldestBatchMs / 1000)} s, ${this.heldEvents} events held` } : { ok: true, adapter: 'storage-worker', detail };
  }

  private get stallAfterMs(): number {
    return 2 * this.deps.config.worker.retryMaxDelayMs;
  }

  /**
   * Subscribes, then consumes, in the background. A subscription the bus refuses (the broker
   * away, or Shared consumers of an older version still on it: Pulsar refuses a Failover one
   * beside them) is retried with backoff while health() says why; it never ends the process.
   */
  async start(): Promise<void> {
    this.loop = this.subscribe()
      .then((consumer) => (consumer === undefined ? undefined : this.run(consumer)))
      .catch((error: unknown) => {
        this.deps.logger.fatal({ err: error }, 'storage worker loop crashed');
        throw error;
      });
  }

  private async subscribe(): Promise<Consumer | undefined> {
    const { bus, config } = this.deps;
    for (let failures = 0; !this.stopping; failures += 1) {
      try {
        this.consumer = await bus.consumer('events', config.bus.subscription, {
          maxUnacked: config.worker.batchSize * (config.worker.concurrency + 1),
          maxRedeliver: config.bus.maxRedeliver,
          nackDelayMs: config.bus.nackDelayMs,
          // One worker per profile at a time: two workers seldom race on a profile's or session's document.
          keyAffinity: true,
        });
        this.subscribeFailure = undefined;
        return this.consumer;
      } catch (error) {
        this.subscribeFailure = (error as Error).message;
        if (failures === 0 || failures % 10 === 0) this.deps.logger.warn({ err: error, failures: failures + 1 }, 'cannot subscribe to the events; retrying');
      }
      if (!(await this.pause(backoffDelayMs({ baseDelayMs: this.deps.config.worker.retryBaseDelayMs, maxDelayMs: SUBSCRIBE_MAX_DELAY_MS }, failures)))) return undefined;
    }
    return undefined;
  }

  /**
   * Stops taking messages, flushes what is buffered (retrying until `deadlineMs` from now),
   * then closes the consumer; anything not written stays unacked on the bus. Idempotent.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    this.stopping = true;
    const timer = setTimeout(() => {
      this.abandon = true;
      this.abandoned.abort();
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
      const started = { at: Date.now() };
      this.batchesWriting.add(started);
      const writing: Promise<void> = this.writeBatch(consumer, batch)
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'a batch write failed; its messages stay on the bus and are delivered again'))
        .finally(() => {
          this.writing -= batch.length;
          this.batchesWriting.delete(started);
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
    while (this.buffer.size > 0 && !this.abandon) await this.writeBatch(consumer, this.buffer.take(batchSize, Date.now())).catch((error: unknown) => this.deps.logger.error({ err: error }, 'a batch write failed at shutdown; its messages stay on the bus'));
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
   * Writes one batch (see `stepAfterFailure`): groups of its events are written until every
   * event is stored or dead-lettered, split, deferred while the store takes no writes, or
   * handed back to the bus (nack) when their failure is isolated to one message; then the
   * messages whose events are all settled are acknowledged. Events of a message nacked
   * meanwhile are skipped: it comes back whole.
   */
  private async writeBatch(consumer: Consumer, batch: PendingEvent[]): Promise<void> {
    this.deps.metrics.batchSize.observe(batch.length);
    const { retryBaseDelayMs, retryMaxDelayMs } = this.deps.config.worker;
    let writes = 0; // groups that settled at least one event: evidence the store takes writes
    let queue: Group[] = [{ events: batch, bornAfterWrites: 0, probe: true, failingSince: undefined }];
    let deferred: Group[] = [];
    for (let idleRounds = 0; ; ) {
      const group = queue.shift();
      if (group === undefined) {
        if (deferred.length === 0) return;
        // Every group left failed retryably with nothing written in between: an outage or
        // an overload. Wait, then try them again; nothing is nacked.
        this.deps.metrics.storeRetries.inc();
        if (!(await this.pause(backoffDelayMs({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs }, idleRounds)))) return;
        idleRounds += 1;
        [queue, deferred] = [deferred, []];
        continue;
      }
      const live = group.events.filter((pending) => !pending.settled && !pending.holder.failed);
      if (live.length === 0) continue;
      const result = await this.writeGroup(live);
      if (result.settledAny) {
        writes += 1;
        idleRounds = 0;
        queue.push(...deferred);
        deferred = [];
      }
      if (result.step === 'abandoned') return;
      // Messages whose events are all settled now are done, whatever happens to the rest.
      await this.ackCompleted(consumer, live);
      if (result.step === 'done') continue;
      const failingSince = group.failingSince ?? Date.now();
      const step = stepAfterFailure({
        messages: messagesIn(result.remaining),
        retryable: result.failure.retryable,
        probe: group.probe,
        othersWritten: writes > group.bornAfterWrites,
        storeHealthy: result.failure.retryable ? await this.storeHealthy() : true,
        failingForMs: Date.now() - failingSince,
        suspectAfterMs: this.stallAfterMs,
      });
      this.deps.logger.warn({ code: result.failure.code, reason: result.failure.reason, events: result.remaining.length, step }, 'store write failed');
      if (step === 'split') queue.unshift(...splitByMessage(result.remaining).map((events): Group => ({ events, bornAfterWrites: writes, probe: false, failingSince: undefined })));
      else if (step === 'nack') await this.nackMessages(consumer, result.remaining, result.failure);
      else deferred.push({ events: result.remaining, bornAfterWrites: group.bornAfterWrites, probe: false, failingSince });
    }
  }

  /**
   * Writes one group until every event is settled, or it failed STORAGE_ISOLATE_AFTER times
   * in a row (a throw, or per-event retryable outcomes with none settled), or a permanent
   * failure; `remaining` is what is still unsettled.
   */
  private async writeGroup(group: PendingEvent[]): Promise<GroupResult> {
    const { retryBaseDelayMs, retryMaxDelayMs, isolateAfter } = this.deps.config.worker;
    let remaining = group;
    let settledAny = false;
    for (let failures = 0; ; ) {
      let failure: Failure;
      try {
        const { retry, lastRetry } = await this.writeOnce(remaining);
        if (retry.length < remaining.length) {
          settledAny = true;
          failures = 0;
        }
        remaining = retry;
        if (remaining.length === 0) return { step: 'done', settledAny };
        // The store answered, but asked to retry some events (429, overload).
        failure = { code: lastRetry?.code ?? 'STORE_UNAVAILABLE', reason: lastRetry?.reason ?? 'the store gave no outcome for some events', retryable: true };
      } catch (error) {
        if (error instanceof AbandonedError) return { step: 'abandoned', settledAny };
        failure = failureOf(error);
      }
      failures += 1;
      if (!failure.retryable || failures >= isolateAfter) return { step: 'failed', failure, remaining, settledAny };
      this.deps.metrics.storeRetries.inc();
      if (!(await this.pause(backoffDelayMs({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs }, failures - 1)))) return { step: 'abandoned', settledAny };
    }
  }

  /** Sleeps `ms`; false when shutdown abandons the work meanwhile. */
  private async pause(ms: number): Promise<boolean> {
    if (this.abandon) return false;
    await sleep(ms, undefined, { signal: this.abandoned.signal }).catch(() => undefined);
    return !this.abandon;
  }

  /** One write: settles (stores or dead-letters) what it can; returns the events to retry and why the last of them must be. */
  private async writeOnce(remaining: PendingEvent[]): Promise<{ retry: PendingEvent[]; lastRetry: { code: ErrorCode; reason: string } | undefined }> {
    const events = remaining.map((pending) => pending.event);
    const { metrics } = this.deps;
    const startedAt = performance.now();
    let outcomes: readonly WriteOutcome[];
    try {
      outcomes = await this.deps.store.writeBatch({ events, ...profileAndSessionUpdates(events) });
    } catch (error) {
      metrics.storeWrite.observe({ outcome: 'error' }, (performance.now() - startedAt) / 1000);
      throw error;
    }
    const writtenAt = Date.now();
    const retry: PendingEvent[] = [];
    let lastRetry: { code: ErrorCode; reason: string } | undefined;
    const rejected: { pending: PendingEvent; outcome: Extract<WriteOutcome, { status: 'rejected' }> }[] = [];
    const stored: PendingEvent[] = [];
    remaining.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined || outcome.status === 'retryable') {
        retry.push(pending);
        if (outcome !== undefined) lastRetry = { code: outcome.code, reason: outcome.reason };
      } else if (outcome.status === 'rejected') rejected.push({ pending, outcome });
      else {
        metrics.eventsStored.inc({ outcome: outcome.status });
        // Received → readable, as the operator waits for it (a redelivery or replay too).
        const seconds = secondsSince(pending.event.receivedAt, writtenAt);
        if (seconds !== undefined) metrics.eventEndToEnd.observe(seconds);
        stored.push(pending);
      }
    });
    metrics.storeWrite.observe({ outcome: retry.length > 0 ? 'retry' : 'ok' }, (performance.now() - startedAt) / 1000);
    for (const pending of stored) settleEvent(pending);
    if (rejected.length > 0) {
      const failedAt = new Date().toISOString();
      await this.publishDeadLetters(
        rejected.map(({ pending, outcome }): DeadLetter => ({ v: DEAD_LETTER_VERSION, kind: 'event', code: outcome.code, reason: outcome.reason, origin: `${this.deps.config.bus.subscription} ${pending.holder.message.id}`, attempts: pending.holder.message.redeliveryCount + 1, failedAt, event: pending.event })),
      );
      for (const { pending } of rejected) settleEvent(pending);
    }
    return { retry, lastRetry };
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
      if (!(await this.pause(backoffDelayMs({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs }, failures)))) throw new AbandonedError('shutdown abandoned a dead-letter publish');
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
      if (holder.pendingEvents === 0 && !holder.failed && !holder.acked) {
        holder.acked = true;
        await this.settle(consumer, holder.message, 'ack');
      }
    }
  }

  /**
   * Acks or nacks, retrying while the bus cannot take it (a Pulsar nack on the last delivery
   * publishes the dead letter itself); given up only at shutdown, leaving the message to be
   * delivered again.
   */
  private async settle(consumer: Consumer, message: ReceivedMessage, how: 'ack' | 'nack', failure?: Failure): Promise<void> {
    const { retryBaseDelayMs, retryMaxDelayMs } = this.deps.config.worker;
    for (let failures = 0; ; failures += 1) {
      try {
        if (how === 'ack') await consumer.ack(message);
        else await consumer.nack(message, { code: failure?.code ?? 'INTERNAL', reason: failure?.reason ?? 'failed' });
        break;
      } catch (error) {
        this.deps.logger.warn({ err: error, message: message.id, how, failures }, 'could not settle a message with the bus; retrying');
      }
      if (!(await this.pause(backoffDelayMs({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs }, failures)))) return;
    }
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


