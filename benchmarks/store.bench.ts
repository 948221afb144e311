// `npm run bench:store`: the storage worker writing to Elasticsearch (bus → batches →
// ElasticStore bulk) against a raw `_bulk` of the same documents and batch size, in the same
// run, on the secured node of `engines:up elasticsearch`, for batch sizes 100–2000.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { EmbeddedBus } from '@sluice/bus';
import { loadConfig } from '@sluice/config';
import { createLogger, Metrics } from '@sluice/observability';
import { encodeReceived, normaliseTrack, type TrackPayload, type TrackedEvent } from '@sluice/core';
import { ElasticStore, eventDocumentId } from '@sluice/store';
import { StorageWorker, profileAndSessionUpdates } from '@sluice/worker';
import { engineEnv, randomName, runEngines, waitFor } from '@sluice/testkit';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 60_000);
const BATCH_SIZES = (process.env['BENCH_BATCH_SIZES'] ?? '100,500,1000,2000').split(',').map(Number);
/** Rounds per target and batch size, interleaved; the median is reported (this machine is noisy). */
const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 3);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Events per request: what a browser SDK flushes at once. */
const EVENTS_PER_REQUEST = 5;

/**
 * The workload: requests of EVENTS_PER_REQUEST events of about 1 KB each, spread over 1000
 * sessions of 500 profiles, each as the bus carries it — the body as the API received it
 * with the API's decisions ({request, payload}) — and the tracked events it stands for.
 */
function sampleRequestForBench(r: number): { message: Buffer; events: TrackedEvent[] } {
  const receivedAt = new Date(Date.UTC(2026, 10, 1) + r * 1000).toISOString();
  const facts = {
    profileId: `p-${String(r % 500)}`, sessionId: `s-${String(r % 1000)}`, receivedAt, metadata: { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (bench)' },
    ids: Array.from({ length: EVENTS_PER_REQUEST }, (_, i) => `bench-${String(r * EVENTS_PER_REQUEST + i)}`),
  };
  const payload: TrackPayload = {
    source: { id: 'demo' }, session: { id: facts.sessionId }, profile: { id: facts.profileId },
    context: { page: { title: 'Product', referrer: 'https://search.example/' } },
    events: facts.ids.map((_, i) => {
      const n = r * EVENTS_PER_REQUEST + i;
      return { type: 'page-view', time: new Date(Date.parse(receivedAt) - (EVENTS_PER_REQUEST - i) * 100).toISOString(), properties: { url: `https://shop.example/products/${String(n % 97)}`, price: n % 100, filler: 'x'.repeat(700) } };
    }),
  };
  return { message: Buffer.from(encodeReceived(facts, JSON.stringify(payload))), events: normaliseTrack(payload, facts) };
}

runEngines('up', ['elasticsearch']);
const es = engineEnv('elasticsearch');
const connection = {
  nodes: es['ELASTIC_HOST']!.split(','), username: es['ELASTIC_HTTP_AUTH_USERNAME']!, password: es['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: es['ELASTIC_CA_FILE']!,
  verifyCerts: true, maxConnections: 25, requestTimeoutMs: 60_000, compression: true, shards: 1, replicas: 0, refreshInterval: '1s',
};
const raw = new Client({ nodes: connection.nodes, auth: { username: connection.username, password: connection.password }, tls: { ca: readFileSync(connection.caFile) }, compression: true, maxRetries: 0, requestTimeout: 60_000 });

/**
 * Before each timed run: dirty pages (the bus file just written, the last run's indices)
 * go to disk now, not during the run, where they would slow Elasticsearch's translog syncs.
 */
function settle(): void {
  execFileSync('sync');
}

async function freshStore(): Promise<ElasticStore> {
  const store = new ElasticStore({ ...connection, prefix: `${randomName('bench')}-` });
  await store.provision();
  return store;
}

/** Raw `_bulk`: the same `create` operations, batch after batch, into a fresh index of the same template. */
async function rawBulk(events: TrackedEvent[], batchSize: number): Promise<number> {
  const store = await freshStore();
  settle();
  const started = performance.now();
  for (let at = 0; at < events.length; at += batchSize) {
    const batch = events.slice(at, at + batchSize);
    const response = await raw.bulk({ operations: batch.flatMap((event) => [{ create: { _index: store.names.eventsAlias, _id: eventDocumentId(event) } }, event]) });
    if (response.errors) throw new Error('raw bulk had item errors');
  }
  const seconds = (performance.now() - started) / 1000;
  await store.dropAll();
  await store.close();
  return events.length / seconds;
}

/**
 * Raw `_bulk` of the same documents the worker writes: each batch's events (`create`) and
 * the profile and session documents they imply (`index`), in one request per batch — the
 * floor for what the worker does, with none of its reads, versions or acks.
 */
async function rawBulkAllDocuments(events: TrackedEvent[], batchSize: number): Promise<number> {
  const store = await freshStore();
  const names = store.names;
  settle();
  const started = performance.now();
  for (let at = 0; at < events.length; at += batchSize) {
    const batch = events.slice(at, at + batchSize);
    const { profiles, sessions } = profileAndSessionUpdates(batch);
    const response = await raw.bulk({
      operations: [
        ...batch.flatMap((event) => [{ create: { _index: names.eventsAlias, _id: eventDocumentId(event) } }, event]),
        ...profiles.flatMap((profile) => [{ index: { _index: names.profiles, _id: profile.id } }, profile]),
        ...sessions.flatMap((session) => [{ index: { _index: names.sessions, _id: session.id } }, session]),
      ],
    });
    if (response.errors) throw new Error('raw bulk had item errors');
  }
  const seconds = (performance.now() - started) / 1000;
  await store.dropAll();
  await store.close();
  return events.length / seconds;
}

/** The storage worker: the requests' messages on an embedded bus, then drained into Elasticsearch. */
async function worker(messages: Buffer[], events: TrackedEvent[], batchSize: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-store-'));
  const bus = await EmbeddedBus.open({ dir, topics: { events: 'events', 'dead-letters': 'dead-letters' }, segmentBytes: 64 << 20, fsync: false });
  for (let at = 0; at < messages.length; at += 100) await bus.publish('events', messages.slice(at, at + 100).map((payload) => ({ key: 'k', payload })));
  const store = await freshStore();
  const metrics = new Metrics({ defaultMetrics: false });
  const config = loadConfig({ DATA_DIR: dir, STORAGE_BATCH_SIZE: String(batchSize), STORAGE_FLUSH_INTERVAL: '50', STORAGE_CONCURRENCY: process.env['STORAGE_CONCURRENCY'] ?? '1' });
  const storageWorker = new StorageWorker({ bus, store, config, logger: createLogger('error'), metrics });
  settle();
  const started = performance.now();
  await storageWorker.start();
  const stored = async () => (await metrics.eventsStored.get()).values.reduce((sum, value) => sum + value.value, 0);
  await waitFor(async () => (await stored()) >= events.length, 600_000, () => 'the worker did not store every event');
  const seconds = (performance.now() - started) / 1000;
  await storageWorker.stop();
  await bus.close();
  await store.dropAll();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  return events.length / seconds;
}

const requests = Array.from({ length: Math.ceil(EVENTS / EVENTS_PER_REQUEST) }, (_, r) => sampleRequestForBench(r));
const messages = requests.map((request) => request.message);
const events = requests.flatMap((request) => request.events);
const rows: string[] = [];
for (const batchSize of BATCH_SIZES) {
  await rawBulk(events.slice(0, Math.min(2000, events.length)), batchSize); // warm-up
  const rounds: { baseline: number[]; sameDocuments: number[]; ours: number[] } = { baseline: [], sameDocuments: [], ours: [] };
  for (let round = 0; round < REPEAT; round += 1) {
    rounds.baseline.push(await rawBulk(events, batchSize));
    rounds.sameDocuments.push(await rawBulkAllDocuments(events, batchSize));
    rounds.ours.push(await worker(messages, events, batchSize));
  }
  const [baseline, sameDocuments, ours] = [median(rounds.baseline), median(rounds.sameDocuments), median(rounds.ours)];
  rows.push(`| ${String(batchSize)} | ${baseline.toFixed(0)} | ${sameDocuments.toFixed(0)} | ${ours.toFixed(0)} | ${(ours / baseline).toFixed(2)} | ${(ours / sameDocuments).toFixed(2)} |`);
}
await raw.close();

process.stdout.write([
  `${String(events.length)} events of ~1 KB per run (${String(EVENTS_PER_REQUEST)} per request, 1000 sessions, 500 profiles), median of ${String(REPEAT)} interleaved rounds, Elasticsearch ${'8.19'} single secured node (TLS, basic auth, gzip), 1 shard, 0 replicas; ${String(cpus().length)} cores, Node ${process.version}`,
  '',
  '| Batch size | raw `_bulk`, events only (events/s) | raw `_bulk`, events + profile + session documents (events/s) | Sluice worker (events/s) | worker / raw events only | worker / raw same documents |',
  '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
].join('\n'));
