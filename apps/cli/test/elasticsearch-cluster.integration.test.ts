// Sluice on the real 3-node cluster (npm run engines:up -- elasticsearch-cluster): shards and
// replicas from the environment, an event nested as deep as the API allows stored, a node
// killed during ingestion, and the whole cluster stopped for 30 seconds. (A refused event in
// the dead letters: dlq-elasticsearch.integration.test.ts.)
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { engineEnv, killEngineNode, profileEventIds, randomName, residentBytes, runEngines, startSluice, tempDir, trackEvents, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'cluster-test-admin-token-123';
const cluster = engineEnv('elasticsearch-cluster');
const base = cluster['ELASTIC_HOST']!.split(',')[0]!;
let processes: SluiceProcess[] = [];
let cleanups: (() => Promise<void>)[] = [];
const tenants: string[] = [];

afterEach(async () => {
  for (const running of processes) await running.stop().catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  processes = [];
  cleanups = [];
});

afterAll(async () => {
  // Whatever a test stopped or killed comes back, and this file's indices go.
  runEngines('up', ['elasticsearch-cluster']);
  await fetch(`${base}/_cluster/health?wait_for_status=green&timeout=60s`);
  for (const tenant of tenants) {
    const indices = Object.keys((await (await fetch(`${base}/${tenant}-*`)).json()) as Record<string, unknown>);
    if (indices.length > 0) await fetch(`${base}/${indices.join(',')}`, { method: 'DELETE' });
    await fetch(`${base}/_index_template/${tenant}-sluice-events`, { method: 'DELETE' });
  }
});

const esJson = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T;

async function startOnCluster(extra: Record<string, string> = {}): Promise<{ sluice: SluiceProcess; env: Record<string, string>; tenant: string }> {
  const { dir, cleanup } = await tempDir('sluice-cluster-');
  cleanups.push(cleanup);
  const tenant = randomName('cl');
  tenants.push(tenant);
  const env = {
    ...cluster, DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'warning', STORAGE_FLUSH_INTERVAL: '200', STORAGE_RETRY_MAX_DELAY: '2000', STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant,
    ELASTIC_INDEX_SHARDS: '2', ELASTIC_INDEX_REPLICAS: '1', ELASTIC_QUERY_TIMEOUT: '5000', ...extra,
  };
  const sluice = await startSluice('start', env, 60_000);
  processes.push(sluice);
  return { sluice, env, tenant };
}

/** Sends `requests` /track calls of `perRequest` events each (ids start with `label`); returns the ids that got a 200. */
async function ingest(url: string, profile: string, label: string, requests: number, perRequest: number, pauseMs = 0): Promise<string[]> {
  const accepted: string[] = [];
  for (let request = 0; request < requests; request += 1) {
    const ids = Array.from({ length: perRequest }, (_, i) => `${label}-${String(request)}-${String(i)}`);
    if ((await trackEvents(url, profile, ids)) === 200) accepted.push(...ids);
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return accepted;
}

/** Every accepted id is stored, and the events indices hold each exactly once. */
async function expectStoredOnce(sluice: SluiceProcess, tenant: string, profile: string, accepted: readonly string[], timeoutMs: number): Promise<void> {
  let stored: string[] = [];
  const diagnose = async () => `cluster: ${JSON.stringify(await esJson('/_cluster/health').catch(String))}; count: ${JSON.stringify(await esJson(`/${tenant}-sluice-events-*/_count?q=profileId:${profile}`).catch(String))}; metrics:\n${(await (await fetch(`${sluice.url}/metrics`)).text()).split('\n').filter((line) => line.startsWith('sluice_')).join('\n')}`;
  await waitFor(async () => {
    stored = await profileEventIds(sluice.url, profile, ADMIN_TOKEN).catch(() => []);
    return stored.length >= accepted.length;
  }, timeoutMs, () => `${String(stored.length)} of ${String(accepted.length)} events stored; Sluice's log ends:\n${sluice.output().slice(-3000)}`).catch(async (error: unknown) => {
    throw new Error(`${(error as Error).message}\n${await diagnose()}`);
  });
  expect(new Set(stored)).toEqual(new Set(accepted));
  await fetch(`${base}/${tenant}-sluice-events-*/_refresh`, { method: 'POST' });
  const count = await esJson<{ count: number }>(`/${tenant}-sluice-events-*/_count?q=profileId:${profile}`);
  expect(count.count).toBe(accepted.length);
}

describe('Sluice on the 3-node Elasticsearch cluster', () => {
  it('places shards and replicas as the environment says, and stores an event nested as deep as the API accepts', async () => {
    const { sluice, tenant } = await startOnCluster();
    const accepted = await ingest(sluice.url, 'p-shards', 'shards', 4, 5);
    expect(accepted).toHaveLength(20);
    // Properties 25 levels deep (29 in the body; TRACK_MAX_DEPTH is 32): deeper than
    // Elasticsearch's default flattened depth_limit (20), within the mapping's (64).
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let level = 0; level < 25; level += 1) deep = { nested: deep };
    const sent = await fetch(`${sluice.url}/track`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: { id: 'demo' }, session: { id: 's-deep' }, profile: { id: 'p-deep' }, events: [{ id: 'deep-1', type: 'deep', properties: deep }] }),
    });
    expect(sent.status).toBe(200);
    await expectStoredOnce(sluice, tenant, 'p-shards', accepted, 20_000);
    await expectStoredOnce(sluice, tenant, 'p-deep', ['deep-1'], 20_000);
    const stored = (await (await fetch(`${sluice.url}/v1/sources/demo/events/deep-1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { properties: unknown };
    expect(stored.properties).toEqual(deep);

    const settings = await esJson<Record<string, { settings: { index: { number_of_shards: string; number_of_replicas: string } } }>>(`/${tenant}-sluice-events/_settings`);
    expect(Object.values(settings).map((index) => index.settings.index)).toEqual([expect.objectContaining({ number_of_shards: '2', number_of_replicas: '1' })]);
    const writeIndex = Object.keys(settings)[0]!;
    await fetch(`${base}/_cluster/health/${writeIndex}?wait_for_status=green&timeout=30s`);
    const shards = await esJson<{ shard: string; prirep: string; state: string; node: string }[]>(`/_cat/shards/${writeIndex}?format=json&h=shard,prirep,state,node`);
    expect(shards).toHaveLength(4);
    expect(shards.every((shard) => shard.state === 'STARTED')).toBe(true);
    for (const number of ['0', '1']) {
      const copies = shards.filter((shard) => shard.shard === number);
      expect(copies.map((copy) => copy.prirep).sort()).toEqual(['p', 'r']);
      expect(copies[0]?.node).not.toBe(copies[1]?.node);
    }
  });

  it('loses nothing when one node is killed during ingestion', async () => {
    const { sluice, tenant } = await startOnCluster();
    const before = await ingest(sluice.url, 'p-kill', 'before', 20, 5, 20);
    killEngineNode('elasticsearch-cluster', 'warm');
    const after = await ingest(sluice.url, 'p-kill', 'after', 40, 5, 20);
    expect(before.length + after.length).toBe(300);
    // Replicas on the hot node take over; the worker retries what the dead node had.
    await expectStoredOnce(sluice, tenant, 'p-kill', [...before, ...after], 60_000);
    runEngines('up', ['elasticsearch-cluster']);
  });

  it('pauses for a 30 s outage of the whole cluster with bounded memory, then drains with no loss and no duplicate', async () => {
    const { sluice, tenant } = await startOnCluster();
    const before = await ingest(sluice.url, 'p-outage', 'before', 10, 5);
    await expectStoredOnce(sluice, tenant, 'p-outage', before, 20_000);
    const rssBefore = residentBytes(sluice.child.pid!);
    const stoppedAt = Date.now();
    runEngines('down', ['elasticsearch-cluster']);
    // Ingestion goes on (the bus holds the events); the worker holds one batch and retries.
    const during = await ingest(sluice.url, 'p-outage', 'during', 300, 10);
    expect(during).toHaveLength(3000);
    const ready = (await (await fetch(`${sluice.url}/readyz`)).json()) as { dependencies: Record<string, { ok: boolean }> };
    expect(ready.dependencies['store']?.ok).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 30_000 - (Date.now() - stoppedAt))));
    expect(residentBytes(sluice.child.pid!) - rssBefore).toBeLessThan(150 * 1024 * 1024);
    runEngines('up', ['elasticsearch-cluster']);
    await expectStoredOnce(sluice, tenant, 'p-outage', [...before, ...during], 90_000);
  });
});
