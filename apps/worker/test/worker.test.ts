import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DEAD_LETTER_CODE, EmbeddedBus, type EventBus } from '@sluice/bus';
import { receiveAll } from '@sluice/bus/conformance';
import { loadConfig } from '@sluice/config';
import type { TrackedEvent } from '@sluice/core';
import { createLogger, Metrics } from '@sluice/observability';
import { SqliteEventStore, type EventStore, type WriteOutcome } from '@sluice/store';
import { sampleEvent } from '@sluice/store/conformance';
import { tempDir, waitFor } from '@sluice/testkit';
import { join } from 'node:path';
import { StorageWorker } from '../src/index.ts';

/**
 * The real embedded store, with faults injected at its boundary: stalls (retryable
 * throws) and per-event rejections, the two failures Elasticsearch produces that SQLite
 * cannot.
 */
class FaultyStore {
  readonly writes: number[] = [];
  stalled = false;
  rejectType: string | undefined;
  readonly store: EventStore;

  constructor(inner: SqliteEventStore) {
    const writeEvents = async (events: readonly TrackedEvent[]): Promise<WriteOutcome[]> => {
      if (this.stalled) throw Object.assign(new Error('store stalled'), { retryable: true });
      this.writes.push(events.length);
      const outcomes = await inner.writeEvents(events.filter((event) => event.type !== this.rejectType));
      return events.map((event) => (event.type === this.rejectType ? { status: 'rejected', code: 'STORE_REJECTED', reason: 'mapper_parsing_exception: failed to parse field [properties.n]' } : (outcomes.shift() as WriteOutcome)));
    };
    this.store = Object.assign(Object.create(inner) as EventStore, { writeEvents });
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
    await bus.publish('events', [{ key: `p${request % 7}`, payload: Buffer.from(JSON.stringify({ events })) }]);
  }
  return all;
}

async function storedCount(events: readonly TrackedEvent[]): Promise<number> {
  let found = 0;
  for (const event of events) if ((await inner.getEvent(event.id)) !== undefined) found += 1;
  return found;
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

  it('stops taking messages while the store stalls, then drains everything exactly once', async () => {
    faulty.stalled = true;
    await worker.start();
    const events = await publishRequests(400, 10);
    let maxHeld = 0;
    const watch = setInterval(() => (maxHeld = Math.max(maxHeld, worker.heldEvents)), 5);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(worker.heldEvents).toBeLessThanOrEqual(worker.maxHeldEvents);
    faulty.stalled = false;
    await waitFor(async () => (await inner.queryEvents({ limit: 5000 })).events.length === 4000, 20_000, () => `held ${worker.heldEvents}, writes ${faulty.writes.length}`);
    clearInterval(watch);
    expect(maxHeld).toBeLessThanOrEqual(worker.maxHeldEvents);
    expect(maxHeld).toBeGreaterThan(0);
    expect(await storedCount(events)).toBe(4000);
  });

  it('dead-letters an event the store rejects, with the reason, and stores the rest of its batch', async () => {
    faulty.rejectType = 'poison';
    await worker.start();
    const good = await publishRequests(2, 3);
    const [poison] = await publishRequests(1, 1, { type: 'poison' });
    await waitFor(async () => (await storedCount(good)) === 6, 5000);
    const deadLetters = await bus.consumer('dead-letters', 'test', { maxUnacked: 10, maxRedeliver: 3, nackDelayMs: 10 });
    const [letter] = await receiveAll(deadLetters, 1, 5000);
    expect(letter?.properties[DEAD_LETTER_CODE]).toBe('STORE_REJECTED');
    const body = JSON.parse(letter?.payload.toString() ?? '{}') as { reason: string; event: TrackedEvent };
    expect(body.reason).toContain('mapper_parsing_exception');
    expect(body.event.id).toBe(poison?.id);
    expect(await inner.getEvent(poison?.id ?? '')).toBeUndefined();
  });

  it('dead-letters a message that is not an event batch instead of blocking the subscription', async () => {
    await worker.start();
    await bus.publish('events', [{ key: 'x', payload: Buffer.from('not json') }]);
    const good = await publishRequests(1, 2);
    await waitFor(async () => (await storedCount(good)) === 2, 5000);
    const deadLetters = await bus.consumer('dead-letters', 'test', { maxUnacked: 10, maxRedeliver: 3, nackDelayMs: 10 });
    expect((await receiveAll(deadLetters, 1, 5000))[0]?.properties[DEAD_LETTER_CODE]).toBe('VALIDATION_FAILED');
  });

  it('leaves unwritten messages on the bus when stopped while the store is down', async () => {
    faulty.stalled = true;
    await worker.start();
    await publishRequests(5, 2);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await worker.stop(200);
    const health = (await bus.health()).detail as { subscriptions: Record<string, { backlog: number }> };
    expect(health.subscriptions['events/storage']?.backlog).toBe(5);
  });
});
