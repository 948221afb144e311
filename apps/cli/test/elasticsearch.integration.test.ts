// Sluice on the real, secured Elasticsearch node (npm run engines:up -- elasticsearch), each
// process as the user of its role (deploy/elasticsearch/roles.yml): `sluice init` as
// sluice-init, `sluice jobs` as sluice-maintainer, `sluice worker` as sluice-writer,
// `sluice api` as sluice-reader, the all-in-one as a user holding all four. Cleanup as the superuser.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ElasticStore } from '@sluice/store';
import { engineEnv, randomName, readiness, runSluice, startSluice, tempDir, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'elastic-test-admin-token-123';
const es = engineEnv('elasticsearch');
const as = (user: 'SLUICE_INIT_USERNAME' | 'SLUICE_MAINTAINER_USERNAME' | 'SLUICE_WRITER_USERNAME' | 'SLUICE_READER_USERNAME' | 'SLUICE_ALL_IN_ONE_USERNAME') => ({ ...es, ELASTIC_HTTP_AUTH_USERNAME: es[user]! });
const asAllInOne = as('SLUICE_ALL_IN_ONE_USERNAME');
const asInit = as('SLUICE_INIT_USERNAME');
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
function esGet(path: string, user = es['ELASTIC_HTTP_AUTH_USERNAME']!, status?: (code: number) => void, method = 'GET', body?: unknown): Promise<unknown> {
  const auth = `Basic ${Buffer.from(`${user}:${es['ELASTIC_HTTP_AUTH_PASSWORD']!}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request(`${es['ELASTIC_HOST']!}${path}`, { method, ca: readFileSync(es['ELASTIC_CA_FILE']!), headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } }, (res) => {
      let body = '';
      status?.(res.statusCode ?? 0);
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(JSON.parse(body) as unknown));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('Sluice on Elasticsearch', () => {
  it('all-in-one: creates its indices from the environment and makes /track events readable through the read API', async () => {
    const { dir, cleanup } = await tempDir('sluice-es-');
    const tenant = randomName('it');
    cleanups.push(cleanup, async () => {
      const store = storeFor(tenant);
      await store.dropAll();
      await store.close();
    });
    const sluice = await startSluice('start', { ...asAllInOne, DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200', STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_SHARDS: '2', ELASTIC_INDEX_REPLICAS: '0' }, 60_000);
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
    await esGet('/_cat/indices?format=json', es['SLUICE_ALL_IN_ONE_USERNAME']);
    await esGet('/.security/_search', es['SLUICE_ALL_IN_ONE_USERNAME'], (code) => (denied = code));
    expect(denied).toBe(403);
  });

  it('`sluice init` is idempotent and safe when every replica runs it at once', async () => {
    const tenant = randomName('init');
    cleanups.push(async () => {
      const store = storeFor(tenant);
      await store.dropAll();
      await store.close();
    });
    const env = { ...process.env, ...asInit, STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_SHARDS: '1', ELASTIC_INDEX_REPLICAS: '0', LOGGING_LEVEL: 'error' };
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

  it('replica roles cannot create or delete an index (403); init can create but not delete', async () => {
    const tenant = randomName('roles');
    cleanups.push(async () => {
      const store = storeFor(tenant);
      await store.dropAll();
      await store.close();
    });
    expect((await runSluice(['init'], { ...asInit, STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_REPLICAS: '0', LOGGING_LEVEL: 'error' })).code).toBe(0);
    const statusOf = async (method: string, path: string, user: string, body?: unknown) => {
      let status = 0;
      await esGet(path, user, (code) => (status = code), method, body);
      return status;
    };
    for (const user of [es['SLUICE_WRITER_USERNAME']!, es['SLUICE_READER_USERNAME']!]) {
      expect(await statusOf('PUT', `/${tenant}-sluice-other`, user)).toBe(403);
      expect(await statusOf('DELETE', `/${tenant}-sluice-events-000001`, user)).toBe(403);
      expect(await statusOf('PUT', `/_index_template/${tenant}-sluice-events`, user, { index_patterns: [`${tenant}-sluice-events-*`] })).toBe(403);
    }
    expect(await statusOf('DELETE', `/${tenant}-sluice-events-000001`, es['SLUICE_INIT_USERNAME']!)).toBe(403);
    // The reader reads and writes nothing.
    expect(await statusOf('GET', `/${tenant}-sluice-profiles/_search`, es['SLUICE_READER_USERNAME']!)).toBe(200);
    expect(await statusOf('DELETE', `/${tenant}-sluice-profiles/_doc/x`, es['SLUICE_READER_USERNAME']!)).toBe(403);
  });

  it('an API replica started before `sluice init` creates nothing and is alive but not ready, naming `sluice init`; it serves once init has run', async () => {
    const { dir, cleanup } = await tempDir('sluice-es-early-');
    const tenant = randomName('early');
    cleanups.push(cleanup, async () => {
      const store = storeFor(tenant);
      await store.dropAll();
      await store.close();
    });
    const env = { STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_REPLICAS: '0', DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'warning' };
    // /healthz answers while it waits: startSluice returns.
    const api = await startSluice('api', { ...as('SLUICE_READER_USERNAME'), ...env }, 60_000);
    processes.push(api);
    const waiting = await readiness(api.url, ADMIN_TOKEN);
    expect(waiting.status).toBe(503);
    expect(waiting.body.dependencies['init']).toMatchObject({ ok: false, adapter: 'sluice init', detail: { missing: 4 } });
    expect(waiting.body.dependencies['init']?.error).toContain(`the events write alias ${tenant}-sluice-events`);
    expect(waiting.body.dependencies['init']?.error).toContain('run `sluice init`');
    // Anonymous callers learn only that init is not done.
    expect((await readiness(api.url)).body.dependencies['init']).toEqual({ ok: false, adapter: 'sluice init', detail: { missing: 4 } });
    await waitFor(() => api.output().includes('run `sluice init`'), 5000, () => `no warning naming sluice init:\n${api.output()}`);
    expect(await esGet(`/${tenant}-sluice-*`)).toEqual({});

    expect((await runSluice(['init'], { ...asInit, ...env })).code).toBe(0);
    await waitFor(async () => (await readiness(api.url).catch(() => undefined))?.status === 200, 20_000, () => `the API did not become ready after init:\n${api.output()}`);
    const events = await fetch(`${api.url}/v1/profiles/nobody/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(events.status).toBe(200);
    expect(await events.json()).toEqual({ events: [] });
  });

  it('`sluice jobs` runs the lifecycle (a rollover) as the maintainer role; the worker role could not', async () => {
    const tenant = randomName('jobs');
    cleanups.push(async () => {
      const store = storeFor(tenant);
      await store.dropAll();
      await store.close();
    });
    const env = { STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_REPLICAS: '0', ELASTIC_LIFECYCLE: 'sluice', ELASTIC_ROLLOVER_MAX_DOCS: '1', LIFECYCLE_INTERVAL: '1', ADMIN_TOKEN, LOGGING_LEVEL: 'warning' };
    expect((await runSluice(['init'], { ...asInit, ...env })).code).toBe(0);
    let denied = 0;
    await esGet(`/${tenant}-sluice-events/_rollover`, es['SLUICE_WRITER_USERNAME'], (code) => (denied = code), 'POST');
    expect(denied).toBe(403);
    // One event in the write index: ELASTIC_ROLLOVER_MAX_DOCS=1 is reached.
    await esGet(`/${tenant}-sluice-events/_doc/one?refresh=true`, undefined, undefined, 'PUT', { id: 'one', sourceId: 'demo', type: 'page-view', receivedAt: new Date().toISOString() });
    const { dir, cleanup } = await tempDir('sluice-jobs-');
    cleanups.push(cleanup);
    const jobs = await startSluice('jobs', { ...as('SLUICE_MAINTAINER_USERNAME'), ...env, DATA_DIR: dir }, 60_000);
    processes.push(jobs);
    await waitFor(async () => {
      const aliases = (await esGet(`/_alias/${tenant}-sluice-events`)) as Record<string, { aliases: Record<string, { is_write_index?: boolean }> }>;
      return aliases[`${tenant}-sluice-events-000002`]?.aliases[`${tenant}-sluice-events`]?.is_write_index === true;
    }, 20_000, () => `no rollover:\n${jobs.output()}`);
    const ready = await readiness(jobs.url);
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.dependencies).sort()).toEqual(['bus', 'init', 'jobs', 'store']);
    expect(await (await fetch(`${jobs.url}/metrics`)).text()).toContain('# TYPE');
  });
});
