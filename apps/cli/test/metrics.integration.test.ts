// The metrics that sizing needs (docs/metrics.md) on a running all-in-one's /metrics: on the
// embedded bus and on the real Pulsar broker (npm run engines:up -- pulsar), after /track
// requests were stored.
import { afterEach, describe, expect, it } from '@jest/globals';
import { engineEnv, randomName, startSluice, tempDir, trackEvents, waitFor, type SluiceProcess } from '@sluice/testkit';

const REQUESTS = 30;
const EVENTS_PER_REQUEST = 3;

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

/** One sample of the Prometheus text: its name, labels and value. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return parseSamples(await response.text());
}

/** The samples named `name` whose labels include `labels`. */
const matching = (samples: readonly Sample[], name: string, labels: Record<string, string> = {}) => samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
const total = (samples: readonly Sample[], name: string, labels: Record<string, string> = {}) => matching(samples, name, labels).reduce((sum, sample) => sum + sample.value, 0);

/** Sends REQUESTS requests of EVENTS_PER_REQUEST events, waits until the worker stored them all, and checks each metric. */
async function expectSizingMetrics(sluice: SluiceProcess, topics: { events: string }): Promise<Sample[]> {
  const run = randomName('m-');
  for (let request = 0; request < REQUESTS; request += 1) {
    const ids = Array.from({ length: EVENTS_PER_REQUEST }, (_, index) => `${run}-${String(request)}-${String(index)}`);
    expect(await trackEvents(sluice.url, `${run}-${String(request % 4)}`, ids)).toBe(200);
  }
  const events = REQUESTS * EVENTS_PER_REQUEST;
  let samples: Sample[] = [];
  await waitFor(async () => {
    samples = await scrape(sluice.url);
    return total(samples, 'sluice_events_stored_total') >= events;
  }, 30_000, () => `not every event was stored: ${String(total(samples, 'sluice_events_stored_total'))} of ${String(events)}`);

  // End-to-end: one observation per stored event, each within seconds.
  const stored = total(samples, 'sluice_events_stored_total');
  expect(total(samples, 'sluice_event_end_to_end_seconds_count')).toBe(stored);
  const meanSeconds = total(samples, 'sluice_event_end_to_end_seconds_sum') / stored;
  expect(meanSeconds).toBeGreaterThan(0);
  expect(meanSeconds).toBeLessThan(10);
  expect(total(samples, 'sluice_event_end_to_end_seconds_bucket', { le: '+Inf' })).toBe(stored);

  // Publish latency: every accepted request was one timed publish (or a part of a grouped one).
  expect(total(samples, 'sluice_bus_publish_seconds_count', { topic: topics.events, outcome: 'ok' })).toBeGreaterThanOrEqual(REQUESTS);
  expect(total(samples, 'sluice_bus_publish_seconds_count', { outcome: 'error' })).toBe(0);

  // Store writes: at least one batch, every one ok.
  expect(total(samples, 'sluice_store_write_seconds_count', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
  expect(total(samples, 'sluice_store_write_seconds_count', { outcome: 'error' })).toBe(0);

  // Consumer lag of the workers' subscription: present, and no older than the test.
  const lag = matching(samples, 'sluice_bus_consumer_lag_seconds', { topic: topics.events, subscription: 'storage' });
  expect(lag).toHaveLength(1);
  expect(lag[0]?.value).toBeGreaterThanOrEqual(0);
  expect(lag[0]?.value).toBeLessThan(30);

  // Config lookups: every request's source came from memory.
  expect(total(samples, 'sluice_config_lookups_total', { kind: 'source', result: 'hit' })).toBeGreaterThanOrEqual(REQUESTS);
  expect(total(samples, 'sluice_config_lookups_total', { kind: 'event_types', result: 'hit' })).toBeGreaterThanOrEqual(REQUESTS);
  return samples;
}

/** Waits until the workers' subscription shows a backlog of 0 messages (all acknowledged). */
async function expectBacklogDrained(sluice: SluiceProcess, topic: string): Promise<void> {
  let backlog: Sample[] = [];
  await waitFor(async () => {
    backlog = matching(await scrape(sluice.url), 'sluice_bus_backlog_messages', { topic, subscription: 'storage' });
    return backlog.length === 1 && backlog[0]?.value === 0;
  }, 20_000, () => `the backlog gauge did not reach 0: ${JSON.stringify(backlog)}`);
}

describe('metrics that sizing needs, on /metrics', () => {
  it('embedded all-in-one: end-to-end latency, publish latency, store writes, consumer lag and backlog, config lookups', async () => {
    const { dir, cleanup } = await tempDir('sluice-metrics-');
    cleanups.push(cleanup);
    const sluice = await startSluice('start', { DATA_DIR: dir, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100' });
    cleanups.push(() => sluice.stop());
    await expectSizingMetrics(sluice, { events: 'events' });
    await expectBacklogDrained(sluice, 'events');
  });

  it('on Pulsar: the same, with the backlog from the admin stats', async () => {
    const pulsar = engineEnv('pulsar');
    const { dir, cleanup } = await tempDir('sluice-metrics-pulsar-');
    const namespace = randomName('it-');
    cleanups.push(cleanup, () => fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' }));
    const sluice = await startSluice('start', {
      DATA_DIR: dir, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100',
      BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: pulsar['PULSAR_WEB_HOST']!, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '2',
    }, 60_000);
    cleanups.push(() => sluice.stop());
    await expectSizingMetrics(sluice, { events: 'events' });
    // The admin stats are read at most every 5 s, and Pulsar's backlog lags acks a little.
    await expectBacklogDrained(sluice, 'events');
  });
});
