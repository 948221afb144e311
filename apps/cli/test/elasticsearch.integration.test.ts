// Sluice on the real, secured Elasticsearch node (npm run engines:up -- elasticsearch).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ElasticStore } from '@sluice/store';
import { engineEnv, randomName, startSluice, tempDir, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'elastic-test-admin-token-123';
const es = engineEnv('elasticsearch');
// Sluice runs as the least-privilege user (deploy/elasticsearch/roles.yml); cleanup as the superuser.
const asWriter = { ...es, ELASTIC_HTTP_AUTH_USERNAME: es['SLUICE_WRITER_USERNAME']! };
let processes: SluiceProcess[] = [];
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const running of processes) await running.stop().catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  processes = [];
  cleanups = [];
});

const storeFor = (tenant: string) => new ElasticStore({
  nodes: es['ELASTIC_HOST']!.split(','), username: es['ELASTIC_HTTP_AUTH_USERNAME']!, password: es['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: es['ELASTIC_CA_FILE']!,
  verifyCerts: true, maxConnections: 2, requestTimeoutMs: 30_000, compression: false, prefix: `${tenant}-`, shards: 1, replicas: 0, refreshInterval: '1s',
});

/** GET on the secured node with its CA and credentials (the superuser unless told). */
function esGet(path: string, user = es['ELASTIC_HTTP_AUTH_USERNAME']!, status?: (code: number) => void): Promise<unknown> {
  const auth = `Basic ${Buffer.from(`${user}:${es['ELASTIC_HTTP_AUTH_PASSWORD']!}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request(`${es['ELASTIC_HOST']!}${path}`, { ca: readFileSync(es['ELASTIC_CA_FILE']!), headers: { authorization: auth } }, (res) => {
      let body = '';
      status?.(res.statusCode ?? 0);
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(JSON.parse(body) as unknown));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Sluice on Elasticsearch', () => {
  it('creates its indices from the environment and makes /track events readable through the read API', async () => {
    const { dir, cleanup } = await tempDir('sluice-es-');
    const tenant = randomName('it');
    cleanups.push(cleanup, async () => {
      const store = storeFor(tenant);
      await store.dropAll();
      await store.close();
    });
    const sluice = await startSluice('start', { ...asWriter, DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200', STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_SHARDS: '2', ELASTIC_INDEX_REPLICAS: '0' }, 60_000);
    processes.push(sluice);

    const response = await fetch(`${sluice.url}/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: { id: 'demo' }, session: { id: 's-es' }, profile: { id: 'p-es' }, events: [{ id: 'es-1', type: 'page-view', properties: { deeply: { nested: { free: 'form' } } } }] }),
    });
    expect(response.status).toBe(200);
    const acceptedAt = Date.now();
    await waitFor(async () => {
      const page = await fetch(`${sluice.url}/v1/profiles/p-es/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return ((await page.json()) as { events: { id: string }[] }).events.some((event) => event.id === 'es-1');
    }, 10_000, () => 'the event did not become readable');
    expect(Date.now() - acceptedAt).toBeLessThan(5000);
    // One event by its source and id; the same id under another source is not it.
    const byId = await fetch(`${sluice.url}/v1/sources/demo/events/es-1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await byId.json()).toMatchObject({ id: 'es-1', sourceId: 'demo', profileId: 'p-es' });
    expect((await fetch(`${sluice.url}/v1/sources/shop/events/es-1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);

    const ready = (await (await fetch(`${sluice.url}/readyz`)).json()) as { dependencies: Record<string, { ok: boolean; adapter: string }> };
    expect(ready.dependencies['store']).toMatchObject({ ok: true, adapter: 'elasticsearch' });
    // Shards and replicas from the environment, on the index behind the write alias.
    const settings = await esGet(`/${tenant}-sluice-events/_settings`);
    const indices = Object.values(settings as Record<string, { settings: { index: { number_of_shards: string; number_of_replicas: string } } }>);
    expect(indices).toHaveLength(1);
    expect(indices[0]?.settings.index).toMatchObject({ number_of_shards: '2', number_of_replicas: '0' });
    const profile = await fetch(`${sluice.url}/v1/profiles/p-es`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(profile.status).toBe(200);
    // The role Sluice ran with reaches Sluice's indices only.
    let denied = 0;
    await esGet('/_cat/indices?format=json', es['SLUICE_WRITER_USERNAME']);
    await esGet('/.security/_search', es['SLUICE_WRITER_USERNAME'], (code) => (denied = code));
    expect(denied).toBe(403);
  });

  it('`sluice init` is idempotent and safe when every replica runs it at once', async () => {
    const tenant = randomName('init');
    cleanups.push(async () => {
      const store = storeFor(tenant);
      await store.dropAll();
      await store.close();
    });
    const env = { ...process.env, ...asWriter, STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_SHARDS: '1', ELASTIC_INDEX_REPLICAS: '0', LOGGING_LEVEL: 'error' };
    const init = () => new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['apps/cli/src/bin.ts', 'init'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('exit', (code) => resolve({ code, out }));
    });
    const runs = await Promise.all([init(), init(), init()]);
    expect(runs.map((run) => run.code)).toEqual([0, 0, 0]);
    // Exactly one replica created the first index; all of them report the template.
    const created = runs.filter((run) => run.out.includes(`elasticsearch: index ${tenant}-sluice-events-000001 (write alias ${tenant}-sluice-events)`));
    expect(created).toHaveLength(1);
    expect(runs.every((run) => run.out.includes(`elasticsearch: index template ${tenant}-sluice-events (lifecycle: sluice)`))).toBe(true);
    const aliases = (await esGet(`/_alias/${tenant}-sluice-events`)) as Record<string, { aliases: Record<string, { is_write_index?: boolean }> }>;
    expect(Object.keys(aliases)).toEqual([`${tenant}-sluice-events-000001`]);
    expect(aliases[`${tenant}-sluice-events-000001`]?.aliases[`${tenant}-sluice-events`]?.is_write_index).toBe(true);
    const again = await init();
    expect(again.code).toBe(0);
    expect(again.out).not.toContain('sluice-events-000001');
  });
});
