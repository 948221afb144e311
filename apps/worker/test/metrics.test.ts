import { afterEach, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { EmbeddedBus } from '@sluice/bus';
import { loadConfig } from '@sluice/config';
import { SluiceError, encodeEvents, type TrackedEvent } from '@sluice/core';
import { createLogger, Metrics } from '@sluice/observability';
import { SqliteEventStore, type EventSink } from '@sluice/store';
import { sampleEvent } from '@sluice/store/conformance';
import { tempDir, waitFor } from '@sluice/testkit';
import { StorageWorker } from '../src/index.ts';
import { secondsSince } from '../src/timing.ts';

/** The figures of one histogram (all its label sets together, or those matching `labels`). */
async function histogram(metrics: Metrics, name: 'eventEndToEnd' | 'storeWrite', labels: Record<string, string> = {}): Promise<{ count: number; sum: number }> {
  const { values } = await metrics[name].get();
  const matching = values.filter((value) => Object.entries(labels).every(([key, wanted]) => (value.labels as Record<string, unknown>)[key] === wanted));
  const total = (suffix: string) => matching.filter((value) => value.metricName?.endsWith(suffix)).reduce((sum, value) => sum + value.value, 0);
  return { count: total('_count'), sum: total('_sum') };
}

let teardown: (() => Promise<void>) | undefined;
afterEach(async () => {
  await teardown?.();
  teardown = undefined;
});

/** A worker on the embedded bus and the real SQLite store; `failFirstWrites` writes throw a retryable error first. */
async function startWorker(failFirstWrites = 0) {
  const temp = await tempDir('sluice-worker-metrics-');
  const config = loadConfig({ DATA_DIR: temp.dir, STORAGE_FLUSH_INTERVAL: '20', STORAGE_RETRY_BASE_DELAY: '10', STORAGE_RETRY_MAX_DELAY: '50' });
  const bus = await EmbeddedBus.open({ dir: join(temp.dir, 'bus'), topics: { events: 'events', 'dead-letters': 'dead-letters' }, segmentBytes: 1 << 20, fsync: false });
  const sqlite = new SqliteEventStore({ path: join(temp.dir, 'events.sqlite'), retentionMs: 0 });
  let failures = failFirstWrites;
  const store: EventSink = {
    writeBatch: async (batch) => {
      if (failures > 0) {
        failures -= 1;
        throw new SluiceError('STORE_UNAVAILABLE', 'not yet');
      }
      return sqlite.writeBatch(batch);
    },
    health: () => sqlite.health(),
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const worker = new StorageWorker({ bus, store, config, logger: createLogger('critical'), metrics });
  await worker.start();
  teardown = async () => {
    await worker.stop(1000);
    await bus.close();
    await sqlite.close();
    await temp.cleanup();
  };
  const publish = async (events: readonly TrackedEvent[]) => bus.publish('events', [{ key: 'p', payload: Buffer.from(encodeEvents(events)) }]);
  return { metrics, publish };
}

describe('storage worker metrics', () => {
  it('observes received → stored once per stored event, from the event\'s receivedAt, redeliveries included', async () => {
    const { metrics, publish } = await startWorker();
    const receivedAt = new Date(Date.now() - 2000).toISOString();
    const events = Array.from({ length: 5 }, () => sampleEvent({ receivedAt }));
    await publish(events);
    await waitFor(async () => (await histogram(metrics, 'eventEndToEnd')).count === 5, 5000, () => 'the 5 stored events were not observed');
    const first = await histogram(metrics, 'eventEndToEnd');
    // Each is at least 2 s old, and was stored within seconds of being published.
    expect(first.sum / 5).toBeGreaterThanOrEqual(2);
    expect(first.sum / 5).toBeLessThan(10);

    // The same events again (a redelivery, a replay): already stored, still observed — the
    // operator waited that long for them.
    await publish(events);
    await waitFor(async () => (await histogram(metrics, 'eventEndToEnd')).count === 10, 5000, () => 'the redelivered events were not observed');
    const stored = await metrics.eventsStored.get();
    expect(stored.values.find((value) => value.labels['outcome'] === 'exists')?.value).toBe(5);
  });

  it('times each store write by outcome: failed writes as error, the write that succeeds as ok', async () => {
    const { metrics, publish } = await startWorker(2);
    await publish([sampleEvent(), sampleEvent()]);
    await waitFor(async () => (await histogram(metrics, 'storeWrite', { outcome: 'ok' })).count === 1, 5000, () => 'no successful write was timed');
    expect((await histogram(metrics, 'storeWrite', { outcome: 'error' })).count).toBe(2);
    expect((await histogram(metrics, 'storeWrite', { outcome: 'retry' })).count).toBe(0);
    const ok = await histogram(metrics, 'storeWrite', { outcome: 'ok' });
    expect(ok.sum).toBeGreaterThan(0);
    expect(ok.sum).toBeLessThan(5);
    expect((await histogram(metrics, 'eventEndToEnd')).count).toBe(2);
  });
});

describe('secondsSince', () => {
  it('is the time from receivedAt to now in seconds, never negative, undefined for a time that does not parse', () => {
    expect(secondsSince('2026-01-01T00:00:00.000Z', Date.parse('2026-01-01T00:00:01.250Z'))).toBe(1.25);
    expect(secondsSince('2026-01-01T00:00:02.000Z', Date.parse('2026-01-01T00:00:01.000Z'))).toBe(0);
    expect(secondsSince('not a time', Date.now())).toBeUndefined();
  });
});
