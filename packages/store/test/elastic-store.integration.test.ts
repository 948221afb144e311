// The store ports' contract on the real, secured Elasticsearch node (basic auth, TLS with the
// provisioned CA): npm run engines:up -- elasticsearch.
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from '@jest/globals';
import { ElasticStore, type ElasticStoreOptions } from '../src/index.ts';
import { createClient } from '../src/elasticsearch/connection.ts';
import { ElasticMerges } from '../src/elasticsearch/merges.ts';
import { storeNames } from '../src/elasticsearch/names.ts';
import { eventsOnly, runStoreConformance, sampleEvent } from '../src/conformance.ts';
import { engineEnv, randomName } from '@sluice/testkit';

const env = engineEnv('elasticsearch');

/**
 * A store on the secured node under `prefix`, as the all-in-one user unless `asSuperuser`:
 * the suite provisions, writes, reads and maintains through one store, so it needs the
 * init, maintainer, writer and reader roles together (deploy/elasticsearch/roles.yml) —
 * no more. Writes visible at once.
 */
function storeOptions(prefix: string, asSuperuser = false): ElasticStoreOptions {
  return {
    nodes: env['ELASTIC_HOST']!.split(','), username: asSuperuser ? env['ELASTIC_HTTP_AUTH_USERNAME']! : env['SLUICE_ALL_IN_ONE_USERNAME']!, password: env['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: env['ELASTIC_CA_FILE']!,
    verifyCerts: true, maxConnections: 4, requestTimeoutMs: 30_000, compression: true, prefix, shards: 1, replicas: 0, refreshInterval: '1s', refreshOnWrite: true,
  };
}

/** Sluice's own lifecycle job, deleting generations `retentionMs` after their rollover (0: never). */
const lifecycleFor = (retentionMs: number) => ({ mode: 'sluice', rollover: { maxPrimaryShardSizeBytes: 50 * 1024 ** 3, maxAgeMs: 86_400_000, maxDocs: 1_000_000 }, warmAfterMs: 0, coldAfterMs: 0, deleteAfterMs: retentionMs, forcemergeSegments: 0 }) as const;

runStoreConformance('elasticsearch', async ({ retentionMs }) => {
  const prefix = `${randomName('conf')}-`;
  const store = new ElasticStore({ ...storeOptions(prefix), lifecycle: lifecycleFor(retentionMs) });
  await store.provision();
  return {
    store,
    cleanup: async () => {
      const admin = new ElasticStore(storeOptions(prefix, true));
      await admin.dropAll();
      await admin.close();
    },
  };
});

describe('Elasticsearch event documents', () => {
  it('derive their _id from source and id, so two sources\' equal ids are two documents; older documents stay readable by their source', async () => {
    const prefix = `${randomName('ids')}-`;
    const store = new ElasticStore(storeOptions(prefix));
    try {
      await store.provision();
      const shop = sampleEvent({ id: 'order-1', sourceId: 'shop' });
      await store.writeBatch(eventsOnly([shop, { ...shop, sourceId: 'demo' }]));
      // The operator's view: a plain client.
      const admin = new Client({ node: env['ELASTIC_HOST']!.split(',')[0]!, auth: { username: env['ELASTIC_HTTP_AUTH_USERNAME']!, password: env['ELASTIC_HTTP_AUTH_PASSWORD']! }, tls: { ca: readFileSync(env['ELASTIC_CA_FILE']!) } });
      const hits = await admin.search({ index: store.names.eventsPattern, query: { term: { id: 'order-1' } }, sort: [{ sourceId: 'asc' }] });
      expect(hits.hits.hits.map((hit) => hit._id)).toEqual(['demo/order-1', 'shop/order-1']);
      // A document written before ids were per source (`_id` = the event id) is still read
      // back by its own source, and by no other.
      const legacy = sampleEvent({ id: 'legacy-1', sourceId: 'shop' });
      await admin.index({ index: store.names.eventsAlias, id: legacy.id, document: legacy, refresh: 'wait_for' });
      expect(await store.getEvent('shop', 'legacy-1')).toEqual(legacy);
      expect(await store.getEvent('demo', 'legacy-1')).toBeUndefined();
      await admin.close();
    } finally {
      await store.dropAll();
      await store.close();
    }
  });
});

describe('Elasticsearch profile versions across writers', () => {
  it('never lets an older update win, even from a writer that remembers an old sequence number', async () => {
    const options = storeOptions(`${randomName('vers')}-`);
    const a = new ElasticStore(options);
    const b = new ElasticStore(options);
    try {
      await a.provision();
      const profile = (version: number, firstSeen: string, lastSessionId: string) => ({ id: 'p-race', firstSeen, lastSeen: firstSeen, lastSessionId, lastSourceId: 'web', version });
      await a.writeBatch({ events: [], profiles: [profile(5, '2026-01-05T00:00:00.000Z', 's5')], sessions: [] }); // a remembers version 5
      await b.writeBatch({ events: [], profiles: [profile(7, '2026-01-07T00:00:00.000Z', 's7')], sessions: [] });
      await a.writeBatch({ events: [], profiles: [profile(6, '2026-01-01T00:00:00.000Z', 's6')], sessions: [] }); // stale for a: 409, read, merge
      expect(await b.getProfile('p-race')).toMatchObject({ version: 7, lastSessionId: 's7', firstSeen: '2026-01-01T00:00:00.000Z' });
      await a.writeBatch({ events: [], profiles: [profile(8, '2026-01-08T00:00:00.000Z', 's8')], sessions: [] });
      expect(await b.getProfile('p-race')).toMatchObject({ version: 8, lastSessionId: 's8', firstSeen: '2026-01-01T00:00:00.000Z' });
    } finally {
      await a.dropAll();
      await a.close();
      await b.close();
    }
  });
});

describe('Elasticsearch worker batches in one request', () => {
  it('writes events, profiles and sessions together, and merges an update another writer got in first', async () => {
    const options = storeOptions(`${randomName('batch')}-`);
    const a = new ElasticStore(options);
    const b = new ElasticStore(options);
    const c = new ElasticStore(options);
    const event = (id: string, time: string) => ({ id, type: 'view', sourceId: 'web', sessionId: 's-b', profileId: 'p-b', time, receivedAt: new Date().toISOString(), properties: {}, context: {}, tags: [], metadata: {} });
    const profile = (version: number, firstSeen: string, lastSessionId: string) => ({ id: 'p-b', firstSeen, lastSeen: firstSeen, lastSessionId, lastSourceId: 'web', version });
    const session = (version: number, firstSeen: string) => ({ id: 's-b', profileId: 'p-b', sourceId: 'web', firstSeen, lastSeen: firstSeen, version });
    try {
      await a.provision();
      expect(await a.writeBatch({ events: [event('b-1', '2026-01-02T00:00:00.000Z')], profiles: [profile(2, '2026-01-02T00:00:00.000Z', 's2')], sessions: [session(2, '2026-01-02T00:00:00.000Z')] })).toEqual([{ status: 'created' }]);
      await b.writeBatch({ events: [], profiles: [profile(9, '2026-01-09T00:00:00.000Z', 's9')], sessions: [] }); // a's remembered sequence number is now stale
      expect(await a.writeBatch({ events: [event('b-1', '2026-01-02T00:00:00.000Z'), event('b-2', '2026-01-03T00:00:00.000Z')], profiles: [profile(3, '2026-01-01T00:00:00.000Z', 's3')], sessions: [session(3, '2026-01-03T00:00:00.000Z')] }))
        .toEqual([{ status: 'exists' }, { status: 'created' }]);
      expect(await a.getProfile('p-b')).toMatchObject({ version: 9, lastSessionId: 's9', firstSeen: '2026-01-01T00:00:00.000Z' });
      expect(await a.getSession('s-b')).toMatchObject({ version: 3, firstSeen: '2026-01-02T00:00:00.000Z', lastSeen: '2026-01-03T00:00:00.000Z' });
      // A writer that never saw these documents creates them optimistically: the 409 makes it read and merge.
      expect(await c.writeBatch({ events: [], profiles: [profile(4, '2025-12-31T00:00:00.000Z', 's4')], sessions: [session(10, '2026-01-04T00:00:00.000Z')] })).toEqual([]);
      expect(await c.getProfile('p-b')).toMatchObject({ version: 9, lastSessionId: 's9', firstSeen: '2025-12-31T00:00:00.000Z' });
      expect(await c.getSession('s-b')).toMatchObject({ version: 10, firstSeen: '2026-01-02T00:00:00.000Z', lastSeen: '2026-01-04T00:00:00.000Z' });
    } finally {
      await a.dropAll();
      await a.close();
      await b.close();
      await c.close();
    }
  });
});

describe('Elasticsearch rollover duplicates (elastic/elasticsearch#44794)', () => {
  it('finds a redelivered event in a generation created after this store listed them', async () => {
    const lifecycle = { mode: 'auto', rollover: { maxPrimaryShardSizeBytes: 50 * 1024 ** 3, maxAgeMs: 86_400_000, maxDocs: 1 }, warmAfterMs: 86_400_000, coldAfterMs: 2 * 86_400_000, deleteAfterMs: 3 * 86_400_000, forcemergeSegments: 1 } as const;
    const options = { ...storeOptions(`${randomName('gens')}-`), lifecycle };
    const store = new ElasticStore(options);
    const other = new ElasticStore(options); // another replica's lifecycle job
    const event = (id: string, receivedAt: string) => ({ id, type: 'view', sourceId: 'web', sessionId: 's', profileId: 'p', time: receivedAt, receivedAt, properties: {}, context: {}, tags: [], metadata: {} });
    try {
      await store.provision();
      // Received before generation 1 existed: the store checks for copies and lists the generations (one).
      expect(await store.writeBatch(eventsOnly([event('old', new Date(Date.now() - 86_400_000).toISOString())]))).toEqual([{ status: 'created' }]);
      expect((await other.maintain(new Date())).actions).toHaveLength(1); // 1 → 2
      const again = event('again', new Date().toISOString());
      expect(await store.writeBatch(eventsOnly([again]))).toEqual([{ status: 'created' }]); // into generation 2
      expect((await other.maintain(new Date())).actions).toHaveLength(1); // 2 → 3
      // The redelivery lands in generation 3, which the store has not listed: it lists them
      // again and finds the copy in generation 2.
      expect(await store.writeBatch(eventsOnly([again]))).toEqual([{ status: 'exists' }]);
      expect((await store.queryEvents({ profileId: 'p', limit: 10 })).events.map(({ id }) => id)).toEqual(['again', 'old']);
    } finally {
      await store.dropAll();
      await store.close();
      await other.close();
    }
  });
});

describe('Elasticsearch profile merge lookups', () => {
  it('gather while an _mget is out: lookups of successive ticks leave in a few requests, each answered for itself', async () => {
    const options = storeOptions(`${randomName('look')}-`);
    const store = new ElasticStore(options);
    const client = createClient(options);
    let mgets = 0;
    client.diagnostic.on('request', (error, event) => {
      if (error === null && event?.meta.request.params.path.endsWith('/_mget') === true) mgets += 1;
    });
    try {
      await store.provision();
      await store.recordMerge({ from: 'p-merged', into: 'p-survivor', mergedAt: '2026-12-01T00:00:00.000Z' });
      const merges = new ElasticMerges({ client, names: storeNames(options.prefix), options, refresh: false });
      // One lookup a tick, as a busy API asks them: per tick, each would have been its own _mget.
      const lookups: Promise<unknown>[] = [];
      for (let tick = 0; tick < 40; tick += 1) {
        const lookup = merges.getMerge(tick % 10 === 0 ? 'p-merged' : `p-${String(tick)}`);
        // A failure is reported by the expectation below, not as an unhandled rejection meanwhile.
        lookup.catch(() => undefined);
        lookups.push(lookup);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const answers = await Promise.allSettled(lookups);
      answers.forEach((answer, tick) => expect(answer).toEqual({ status: 'fulfilled', value: tick % 10 === 0 ? { from: 'p-merged', into: 'p-survivor', mergedAt: '2026-12-01T00:00:00.000Z' } : undefined }));
      expect(mgets).toBeGreaterThan(0);
      expect(mgets).toBeLessThanOrEqual(20);
    } finally {
      await store.dropAll();
      await store.close();
      await client.close();
    }
  });
});
