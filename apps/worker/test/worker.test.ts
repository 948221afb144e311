import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { EmbeddedBus, GroupingBus, type EventBus } from '@sluice/bus';
import { receiveAll } from '@sluice/bus/conformance';
import { loadConfig } from '@sluice/config';
import { SluiceError, decodeDeadLetter, decodeEventsMessage, encodeEvents, type DeadLetter, type TrackedEvent } from '@sluice/core';
import { createLogger, Metrics } from '@sluice/observability';
import { SqliteEventStore, type EventSink, type StoreBatch, type WriteOutcome } from '@sluice/store';
import { sampleEvent } from '@sluice/store/conformance';
import { tempDir, waitFor } from '@sluice/testkit';
import { join } from 'node:path';
import { StorageWorker } from '../src/index.ts';

/**
 * The real embedded store, with faults injected at its boundary: outages (retryable throws
 * while the health check fails), poison (a throw whenever a batch holds a given event
 * type, the store otherwise healthy) and per-event rejections — the failures Elasticsearch
 * produces that SQLite cannot.
 */
class FaultyStore {
  readonly writes: number[] = [];
  /** An outage: every write throws a retryable error and the health check fails. */
  down = false;
  rejectType: string | undefined;
  /** Every write of a batch holding an event of this type throws `poison.error`. */
  poison: { type: string; error: () => Error } | undefined;
  /** Runs before each write: may throw, or answer outcomes itself (for scripted failures). */
  script: ((batch: StoreBatch) => WriteOutcome[] | undefined) | undefined;
  readonly store: EventSink;

  constructor(inner: SqliteEventStore) {
    const writeBatch = async (batch: StoreBatch): Promise<WriteOutcome[]> => {
      if (this.down) throw new SluiceError('STORE_UNAVAILABLE', 'store down');
      const poison = this.poison;
      if (poison !== undefined && batch.events.some((event) => event.type === poison.type)) throw poison.error();
      const scripted = this.script?.(batch);
      if (scripted !== undefined) {
        const toStore = batch.events.filter((_, index) => scripted[index]?.status === 'created');
        const written = await inner.writeBatch({ ...batch, events: toStore });
        return scripted.map((outcome) => (outcome.status === 'created' ? (written.shift() as WriteOutcome) : outcome));
      }
      this.writes.push(batch.events.length);
      const outcomes = await inner.writeBatch({ ...batch, events: batch.events.filter((event) => event.type !== this.rejectType) });
      return batch.events.map((event) => (event.type === this.rejectType ? { status: 'rejected', code: 'STORE_REJECTED', reason: 'mapper_parsing_exception: failed to parse field [properties.n]' } : (outcomes.shift() as WriteOutcome)));
    };
    const health = async () => (this.down ? { ok: false, adapter: 'faulty', error: 'down' } : inner.health());
    this.store = { writeBatch, health };
  }
}

let bus: EventBus;
let inner: SqliteEventStore;
let faulty: FaultyStore;
let worker: StorageWorker;
let cleanup: () => Promise<void>;

async function start(env: Record<string, string> = {}): Promise<void> {
  const temp = await tempDir('sluice-worker-');
  cleanup = temp.cleanup;
  const config = loadConfig({ DATA_DIR: temp.dir, STORAGE_RETRY_BASE_DELAY: '10', STORAGE_RETRY_MAX_DELAY: '50', ...env });
  bus = await EmbeddedBus.open({ dir: join(temp.dir, 'bus'), topics: { events: 'events', 'dead-letters': 'dead-letters' }, segmentBytes: 1 << 20, fsync: false });
  inner = new SqliteEventStore({ path: join(temp.dir, 'events.sqlite'), retentionMs: 0 });
  faulty = new FaultyStore(inner);
  worker = new StorageWorker({ bus, store: faulty.store, config, logger: createLogger('critical'), metrics: new Metrics({ defaultMetrics: false }) });
}

async function publishRequests(requests: number, eventsPerRequest: number, overrides: Partial<TrackedEvent> = {}): Promise<TrackedEvent[]> {
  const all: TrackedEvent[] = [];
  for (let request = 0; request < requests; request += 1) {
    const events = Array.from({ length: eventsPerRequest }, () => sampleEvent({ profileId: `p${request % 7}`, ...overrides }));
    all.push(...events);
    await bus.publish('events', [{ key: `p${request % 7}`, payload: Buffer.from(encodeEvents(events)) }]);
  }
  return all;
}

async function storedCount(events: readonly TrackedEvent[]): Promise<number> {
  let found = 0;
  for (const event of events) if ((await inner.getEvent(event.sourceId, event.id)) !== undefined) found += 1;
  return found;
}

/** Restarts with other settings (the worker of `beforeEach` was never started). */
async function stopAndRestart(env: Record<string, string>): Promise<void> {
  await bus.close();
  await inner.close();
  await cleanup();
  await start(env);
}

/** The next `count` dead letters, decoded. */
async function deadLetters(count: number): Promise<DeadLetter[]> {
  const consumer = await bus.consumer('dead-letters', 'test', { maxUnacked: 100, maxRedeliver: 3, nackDelayMs: 10 });
  try {
    const received = count === 0 ? await consumer.receive(10, 300) : await receiveAll(consumer, count, 5000);
    return received.map((message) => {
      const decoded = decodeDeadLetter(message.payload);
      if (!decoded.ok) throw new Error(decoded.reason);
      return decoded.letter;
    });
  } finally {
    await consumer.close();
  }
}

async function backlog(): Promise<number | undefined> {
  return ((await bus.health()).detail as { subscriptions: Record<string, { backlog: number }> }).subscriptions['events/storage']?.backlog;
}

function decodeEventsMessageOf(letter: DeadLetter | undefined): TrackedEvent[] {
  if (letter?.kind !== 'message') return [];
  const decoded = decodeEventsMessage(Buffer.from(letter.message.payload, 'base64'));
  return decoded.ok ? decoded.events : [];
}

afterEach(async () => {
  await worker.stop(1000);
  await bus.close();
  await inner.close();
  await cleanup();
});

describe('storage worker', () => {
  beforeEach(() => start());

  it('writes in batches of STORAGE_BATCH_SIZE (500) and acks only what is stored', async () => {
    const events = await publishRequests(150, 10);
    await worker.start();
    await waitFor(async () => (await inner.queryEvents({ limit: 1000 })).events.length >= 1000 && faulty.writes.length >= 3, 10_000);
    expect(faulty.writes.slice(0, 3)).toEqual([500, 500, 500]);
    expect(await storedCount(events)).toBe(1500);
    await waitFor(async () => ((await bus.health()).detail as { subscriptions: Record<string, { backlog: number }> }).subscriptions['events/storage']?.backlog === 0, 5000);
  });

  it('keeps subscribing while the bus refuses it (not ready, saying why), then stores what waited', async () => {
    const events = await publishRequests(3, 2);
    let refusals = 3;
    const refusing: EventBus = {
      publish: (output, messages) => bus.publish(output, messages),
      consumer: async (output, subscription, options) => {
        if (refusals > 0) {
          refusals -= 1;
          throw new SluiceError('BUS_UNAVAILABLE', 'Subscription is of different type');
        }
        return bus.consumer(output, subscription, options);
      },
      health: () => bus.health(),
      close: async () => undefined,
    };
    worker = new StorageWorker({ bus: refusing, store: faulty.store, config: loadConfig({ DATA_DIR: '/tmp', STORAGE_RETRY_BASE_DELAY: '50', STORAGE_RETRY_MAX_DELAY: '50' }), logger: createLogger('critical'), metrics: new Metrics({ defaultMetrics: false }) });
    await worker.start();
    const waiting = await worker.health();
    expect(waiting.ok).toBe(false);
    expect(waiting.error).toContain('not subscribed');
    await waitFor(async () => (await storedCount(events)) === events.length, 10_000);
    expect(refusals).toBe(0);
    expect((await worker.health()).ok).toBe(true);
  });

  it('writes a partial batch once STORAGE_FLUSH_INTERVAL has passed', async () => {
    await worker.start();
    const events = await publishRequests(3, 2);
    await waitFor(async () => (await storedCount(events)) === 6, 5000);
    expect(faulty.writes).toEqual([6]);
  });

  it('updates profiles and sessions from stored events', async () => {
    await worker.start();
    const [event] = await publishRequests(1, 1, { profileId: 'prof-x', sessionId: 'sess-x' });
    await waitFor(async () => (await inner.getProfile('prof-x')) !== undefined, 5000);
    expect(await inner.getProfile('prof-x')).toMatchObject({ lastSessionId: 'sess-x', firstSeen: event?.time });
    expect(await inner.getSession('sess-x')).toMatchObject({ profileId: 'prof-x' });
  });

  it('stops taking messages while the store is down, reports it stalled, nacks nothing, then drains everything exactly once', async () => {
    faulty.down = true;
    await worker.start();
    const events = await publishRequests(400, 10);
    let maxHeld = 0;
    const watch = setInterval(() => (maxHeld = Math.max(maxHeld, worker.heldEvents)), 5);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(worker.heldEvents).toBeLessThanOrEqual(worker.maxHeldEvents);
    expect(await worker.health()).toMatchObject({ ok: false, error: expect.stringContaining('no progress') }); // 2 × STORAGE_RETRY_MAX_DELAY (50 ms) passed
    faulty.down = false;
    await waitFor(async () => (await inner.queryEvents({ limit: 5000 })).events.length === 4000, 20_000, () => `held ${worker.heldEvents}, writes ${faulty.writes.length}`);
    clearInterval(watch);
    expect(maxHeld).toBeLessThanOrEqual(worker.maxHeldEvents);
    expect(maxHeld).toBeGreaterThan(0);
    expect(await storedCount(events)).toBe(4000);
    expect(await deadLetters(0)).toEqual([]); // an outage is not poison
    expect((await worker.health()).ok).toBe(true);
  });

  it('dead-letters an event the store rejects, with the reason, and stores the rest of its batch', async () => {
    faulty.rejectType = 'poison';
    await worker.start();
    const good = await publishRequests(2, 3);
    const [poison] = await publishRequests(1, 1, { type: 'poison' });
    await waitFor(async () => (await storedCount(good)) === 6, 5000);
    const [letter] = await deadLetters(1);
    expect(letter).toMatchObject({ v: 1, kind: 'event', code: 'STORE_REJECTED', attempts: 1, reason: expect.stringContaining('mapper_parsing_exception'), event: { id: poison?.id } });
    expect(await inner.getEvent(poison?.sourceId ?? '', poison?.id ?? '')).toBeUndefined();
  });

  it('dead-letters a message that is not a version-1 events message, as received, instead of blocking the subscription', async () => {
    await worker.start();
    await bus.publish('events', [{ key: 'x', payload: Buffer.from('not json') }]);
    await bus.publish('events', [{ key: 'y', payload: Buffer.from(JSON.stringify({ events: [sampleEvent()] })) }]); // unversioned
    const good = await publishRequests(1, 2);
    await waitFor(async () => (await storedCount(good)) === 2, 5000);
    const letters = await deadLetters(2);
    expect(letters).toEqual([
      expect.objectContaining({ kind: 'message', code: 'MESSAGE_INVALID', reason: expect.stringContaining('not JSON'), message: expect.objectContaining({ key: 'x', payload: Buffer.from('not json').toString('base64') }) }),
      expect.objectContaining({ kind: 'message', code: 'MESSAGE_INVALID', reason: expect.stringContaining('version 1'), message: expect.objectContaining({ key: 'y' }) }),
    ]);
  });

  it('isolates a message whose write always fails permanently: its neighbours and later canaries are stored, it is nacked and dead-lettered after BUS_MAX_REDELIVER deliveries', async () => {
    await stopAndRestart({ BUS_MAX_REDELIVER: '3', BUS_NACK_DELAY: '10' });
    faulty.poison = { type: 'poison', error: () => new RangeError('Maximum call stack size exceeded') };
    const before = await publishRequests(20, 5);
    const [poison] = await publishRequests(1, 2, { type: 'poison' });
    const after = await publishRequests(20, 5);
    await worker.start();
    await waitFor(async () => (await storedCount([...before, ...after])) === 200, 10_000);
    const [letter] = await deadLetters(1);
    expect(letter).toMatchObject({ kind: 'message', code: 'INTERNAL', attempts: 3, reason: expect.stringContaining('Maximum call stack size exceeded') });
    const replayed = decodeEventsMessageOf(letter);
    expect(replayed.map((event) => event.id)).toContain(poison?.id);
    const canaries = await publishRequests(3, 1);
    await waitFor(async () => (await storedCount(canaries)) === 3, 5000);
    await waitFor(async () => backlog() .then((count) => count === 0), 5000);
  });

  it('isolates a message whose write keeps failing retryably while the store is healthy (after STORAGE_ISOLATE_AFTER attempts)', async () => {
    await stopAndRestart({ BUS_MAX_REDELIVER: '2', BUS_NACK_DELAY: '10', STORAGE_ISOLATE_AFTER: '2' });
    faulty.poison = { type: 'poison', error: () => new SluiceError('STORE_UNAVAILABLE', 'es_rejected_execution_exception on one document') };
    const good = await publishRequests(30, 3);
    await publishRequests(1, 1, { type: 'poison' });
    await worker.start();
    await waitFor(async () => (await storedCount(good)) === 90, 10_000);
    const [letter] = await deadLetters(1);
    expect(letter).toMatchObject({ kind: 'message', code: 'STORE_UNAVAILABLE', attempts: 2 });
    await waitFor(async () => backlog().then((count) => count === 0), 5000);
  });

  it('acks a message that spans two batches only once every event of it is stored, through per-event retries and a split', async () => {
    await stopAndRestart({ STORAGE_BATCH_SIZE: '3', STORAGE_FLUSH_INTERVAL: '50' });
    const [b1] = await publishRequests(1, 1, { type: 'flaky', profileId: 'pb' });
    const a = [sampleEvent({ profileId: 'pa', type: 'ok' }), sampleEvent({ profileId: 'pa', type: 'flaky' }), sampleEvent({ profileId: 'pa', type: 'ok' })];
    await bus.publish('events', [{ key: 'pa', payload: Buffer.from(encodeEvents(a)) }]);
    let call = 0;
    faulty.script = (batch) => {
      call += 1;
      // First write: the flaky events get a per-event 429; second: the whole request fails permanently; then all is well.
      if (call === 1) return batch.events.map((event): WriteOutcome => (event.type === 'flaky' ? { status: 'retryable', code: 'STORE_UNAVAILABLE', reason: 'es_rejected_execution_exception' } : { status: 'created' }));
      if (call === 2) throw new SluiceError('STORE_REJECTED', 'HTTP 400 illegal_argument_exception');
      return undefined;
    };
    await worker.start();
    await waitFor(async () => (await storedCount([b1!, ...a])) === 4 && (await backlog()) === 0, 10_000, () => `stored ${String(call)} calls`);
    expect(await deadLetters(0)).toEqual([]);
  });

  it('waits out an overload of a store whose health check passes: nothing is nacked or dead-lettered, then everything is stored once', async () => {
    // A message is suspected after failing alone for 2 × STORAGE_RETRY_MAX_DELAY (4 s here): the overload is shorter.
    await stopAndRestart({ BUS_MAX_REDELIVER: '2', BUS_NACK_DELAY: '10', STORAGE_ISOLATE_AFTER: '2', STORAGE_BATCH_SIZE: '10', STORAGE_RETRY_MAX_DELAY: '2000' });
    faulty.script = () => {
      throw new SluiceError('STORE_UNAVAILABLE', 'HTTP 429 es_rejected_execution_exception');
    };
    const events = await publishRequests(12, 2);
    await worker.start();
    await new Promise((resolve) => setTimeout(resolve, 1500)); // many rounds of 2 attempts at 10–50 ms
    expect(await deadLetters(0)).toEqual([]);
    expect(await storedCount(events)).toBe(0);
    faulty.script = undefined;
    await waitFor(async () => (await storedCount(events)) === 24 && (await backlog()) === 0, 10_000);
    expect(await deadLetters(0)).toEqual([]);
  });

  it('isolates an event the store keeps answering "retry" for while it stores its neighbours', async () => {
    await stopAndRestart({ BUS_MAX_REDELIVER: '2', BUS_NACK_DELAY: '10', STORAGE_ISOLATE_AFTER: '2' });
    faulty.script = (batch) => batch.events.map((event): WriteOutcome => (event.type === 'stuck' ? { status: 'retryable', code: 'STORE_UNAVAILABLE', reason: 'circuit_breaking_exception' } : { status: 'created' }));
    const good = await publishRequests(10, 2);
    const [stuck] = await publishRequests(1, 1, { type: 'stuck' });
    await worker.start();
    await waitFor(async () => (await storedCount(good)) === 20, 10_000);
    const [letter] = await deadLetters(1);
    expect(letter).toMatchObject({ kind: 'message', code: 'STORE_UNAVAILABLE', attempts: 2, reason: expect.stringContaining('circuit_breaking_exception') });
    expect(decodeEventsMessageOf(letter).map((event) => event.id)).toEqual([stuck?.id]);
    await waitFor(async () => backlog().then((count) => count === 0), 5000); // the neighbours' messages are acknowledged too
  });

  it('survives a bus that fails to take a nack: it retries, and nothing is lost', async () => {
    await stopAndRestart({ BUS_MAX_REDELIVER: '2', BUS_NACK_DELAY: '10' });
    faulty.poison = { type: 'poison', error: () => new SluiceError('STORE_REJECTED', 'HTTP 400 parse error') };
    const good = await publishRequests(5, 1);
    await publishRequests(1, 1, { type: 'poison' });
    const consumerOf = bus.consumer.bind(bus);
    let failNacks = 2;
    bus.consumer = async (...args) => {
      const consumer = await consumerOf(...args);
      const nack = consumer.nack.bind(consumer);
      consumer.nack = async (message, failure) => {
        if (failNacks-- > 0) throw new SluiceError('BUS_UNAVAILABLE', 'broker hiccup');
        return nack(message, failure);
      };
      return consumer;
    };
    await worker.start();
    await waitFor(async () => (await storedCount(good)) === 5, 10_000);
    await deadLetters(1);
    await waitFor(async () => backlog().then((count) => count === 0), 5000);
    expect(failNacks).toBeLessThan(0);
  });

  it('stores every event of grouped requests (a batch message) and acks it once; an event the store rejects is dead-lettered alone', async () => {
    const grouping = new GroupingBus(bus, { lingerMs: 5, maxBytes: 256 * 1024, maxEvents: 100, partitions: 1 });
    faulty.rejectType = 'poison';
    const requests = Array.from({ length: 12 }, (_, request) => Array.from({ length: 3 }, (_, n) => sampleEvent({ profileId: `p${String(request)}`, ...(request === 4 && n === 1 ? { type: 'poison' } : {}) })));
    await Promise.all(requests.map((events) => grouping.publish('events', [{ key: events[0]!.profileId, payload: Buffer.from(encodeEvents(events)), groupable: { events: events.length } }])));
    // One message on the bus for the twelve requests.
    expect(((await bus.health()).detail as { topics: Record<string, { startOffset: number; endOffset: number }> }).topics['events']).toMatchObject({ startOffset: 0, endOffset: 1 });
    await worker.start();
    const stored = requests.flat().filter((event) => event.type !== 'poison');
    await waitFor(async () => (await storedCount(stored)) === stored.length, 5000);
    const letters = await deadLetters(1);
    expect(letters.map((letter) => (letter.kind === 'event' ? letter.event.id : letter.kind))).toEqual([requests[4]![1]!.id]);
    await waitFor(async () => (await backlog()) === 0, 5000);
  });

  it('leaves unwritten messages on the bus when stopped while the store is down', async () => {
    faulty.down = true;
    await worker.start();
    await publishRequests(5, 2);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await worker.stop(200);
    const health = (await bus.health()).detail as { subscriptions: Record<string, { backlog: number }> };
    expect(health.subscriptions['events/storage']?.backlog).toBe(5);
  });
});
