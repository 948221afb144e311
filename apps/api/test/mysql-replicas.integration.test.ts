// Two API replicas sharing one MySQL config store (MariaDB), each with its own config
// cache, bus and store: changes made through one apply on the other within
// SOURCE_CACHE_TTL; tracking survives a MariaDB outage and pool exhaustion; admin calls fail
// fast with coded 503s and recover.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { receiveAll } from '@sluice/bus/conformance';
import { loadConfig } from '@sluice/config';
import type { MysqlConfigStore, MysqlPoolSettings } from '@sluice/config-store';
import { createTestDatabase, mysqlEnv, mysqlTestSettings, startOwnMariaDb, type OwnMariaDb } from '@sluice/config-store/mysql-testing';
import { decodeEventsMessage } from '@sluice/core';
import { createLogger, Metrics } from '@sluice/observability';
import { tempDir, waitFor } from '@sluice/testkit';
import { closeAdapters, createAdapters, healthChecks, initEngines, type Adapters } from '@sluice/wiring';
import { buildApi, type Api } from '../src/index.ts';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
/** SOURCE_CACHE_TTL of the replicas, seconds. */
const TTL_SECONDS = 1;

interface Replica {
  readonly api: Api;
  readonly adapters: Adapters;
  close(): Promise<void>;
}

/** One API replica on `settings`' database: its own DATA_DIR (bus, store), config cache and pool. */
async function startReplica(settings: MysqlPoolSettings, env: Record<string, string> = {}): Promise<Replica> {
  const { dir, cleanup } = await tempDir('sluice-replica-');
  const config = loadConfig({ DATA_DIR: dir, ADMIN_TOKEN, SOURCE_CACHE_TTL: String(TTL_SECONDS), CONFIG_START_TIMEOUT: '10', MYSQL_POOL_TIMEOUT: '1', MYSQL_QUERY_TIMEOUT: '1000', ...mysqlEnv(settings), ...env });
  const logger = createLogger('critical');
  const adapters = await createAdapters(config, logger, ['bus', 'store', 'cache', 'configStore', 'jobs']);
  const api = buildApi({ config, ...adapters, logger, metrics: new Metrics({ defaultMetrics: false }), checks: healthChecks(adapters) });
  try {
    await api.app.ready();
  } catch (error) {
    await closeAdapters(adapters);
    await cleanup();
    throw error;
  }
  return {
    api,
    adapters,
    close: async () => {
      await api.app.close();
      await closeAdapters(adapters);
      await cleanup();
    },
  };
}

/** Runs `sluice init`'s provisioning for the config store (the migrations). */
async function migrate(settings: MysqlPoolSettings): Promise<void> {
  await initEngines(loadConfig({ ...mysqlEnv(settings), DATA_DIR: '/tmp/unused-sluice-init' }), createLogger('critical'));
}

const admin = (replica: Replica, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
  replica.api.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }, ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) });

const track = (replica: Replica, source: string, events: unknown[]) =>
  replica.api.app.inject({ method: 'POST', url: '/track', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ source: { id: source }, session: { id: 's1' }, events }) });

async function readyz(replica: Replica) {
  const response = await replica.api.app.inject({ method: 'GET', url: '/readyz', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return { status: response.statusCode, body: response.json<{ dependencies: Record<string, { ok: boolean; detail?: { stale?: boolean }; error?: string }> }>() };
}

/** Event ids on a replica's bus (events output), each as often as it was published. */
async function publishedIds(replica: Replica, expected: number): Promise<string[]> {
  const consumer = await replica.adapters.bus.consumer('events', 'count', { maxUnacked: 10_000, maxRedeliver: 3, nackDelayMs: 10 });
  const received = await receiveAll(consumer, expected, 10_000);
  await consumer.close();
  return received.flatMap((message) => {
    const decoded = decodeEventsMessage(message.payload);
    return decoded.ok ? decoded.events.map((event) => event.id) : [];
  });
}

describe('two replicas on one MariaDB database', () => {
  let drop: () => Promise<void>;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    const created = await createTestDatabase();
    drop = created.drop;
    const settings = mysqlTestSettings(created.database);
    await migrate(settings);
    [a, b] = await Promise.all([startReplica(settings), startReplica(settings)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await drop?.();
  });

  it('a source created through one replica\'s admin API applies on the other within SOURCE_CACHE_TTL', async () => {
    expect((await track(b, 'shop', [{ type: 'view' }])).statusCode).toBe(401);
    expect((await admin(a, 'POST', '/v1/sources', { id: 'shop', name: 'Shop' })).statusCode).toBe(201);
    const created = Date.now();
    await waitFor(async () => (await track(b, 'shop', [{ type: 'view' }])).statusCode === 200, TTL_SECONDS * 1000 + 1500, () => 'replica B never accepted the new source');
    expect(Date.now() - created).toBeLessThanOrEqual(TTL_SECONDS * 1000 + 1500);
    // Disabling on B reaches A too.
    await admin(b, 'PATCH', '/v1/sources/shop', { enabled: false });
    await waitFor(async () => (await track(a, 'shop', [{ type: 'view' }])).statusCode === 403, TTL_SECONDS * 1000 + 1500, () => 'replica A never saw the source disabled');
    await admin(b, 'PATCH', '/v1/sources/shop', { enabled: true });
  });

  it('an event type and a change of its schema reach every replica', async () => {
    await admin(a, 'POST', '/v1/sources', { id: 'app', name: 'App' });
    const schema = { type: 'object', required: ['price'], properties: { price: { type: 'number' } } };
    expect((await admin(a, 'POST', '/v1/event-types', { name: 'purchase', schema })).statusCode).toBe(201);
    await waitFor(async () => (await track(b, 'app', [{ type: 'purchase', properties: { price: 'x' } }])).statusCode === 422, TTL_SECONDS * 1000 + 1500, () => 'replica B never validated purchase');
    const invalid = await track(b, 'app', [{ type: 'purchase', properties: { price: 'x' } }]);
    expect(invalid.json()).toMatchObject({ code: 'EVENT_INVALID', details: [{ path: '/events/0/properties/price' }] });
    expect((await track(b, 'app', [{ type: 'purchase', properties: { price: 1 } }])).statusCode).toBe(200);
    // Version 2 (price as text), made through B, reaches A.
    expect((await admin(b, 'PATCH', '/v1/event-types/purchase', { schema: { type: 'object', properties: { price: { type: 'string' } } } })).json()).toMatchObject({ version: 2 });
    await waitFor(async () => (await track(a, 'app', [{ type: 'purchase', properties: { price: 'x' } }])).statusCode === 200, TTL_SECONDS * 1000 + 1500, () => 'replica A never saw version 2');
    expect((await track(a, 'app', [{ type: 'purchase', properties: { price: 1 } }])).statusCode).toBe(422);
  });

  it('pool exhaustion never blocks /track; admin calls get POOL_TIMEOUT after MYSQL_POOL_TIMEOUT', async () => {
    const store = a.adapters.configStore as MysqlConfigStore;
    // Take every connection of A's pool (5 + 2 overflow) and hold them.
    const held = await Promise.all(Array.from({ length: 7 }, () => new Promise<{ release(): void }>((resolve, reject) => store.pool.getConnection((error, connection) => (error === null ? resolve(connection) : reject(error))))));
    try {
      const started = Date.now();
      const tracked = await track(a, 'shop', [{ type: 'view' }]);
      expect(tracked.statusCode).toBe(200);
      expect(Date.now() - started).toBeLessThan(500);
      const adminStarted = Date.now();
      const refused = await admin(a, 'GET', '/v1/sources');
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).toMatchObject({ code: 'POOL_TIMEOUT' });
      expect(Date.now() - adminStarted).toBeGreaterThanOrEqual(900);
      expect(Date.now() - adminStarted).toBeLessThan(3000);
      // Readiness stays ready: tracking does not need the pool.
      expect((await readyz(a)).status).toBe(200);
    } finally {
      for (const connection of held) connection.release();
    }
    expect((await admin(a, 'GET', '/v1/sources')).statusCode).toBe(200);
  });
});

describe('a MariaDB outage (a server of the test\'s own, killed and restarted)', () => {
  /** How long MariaDB stays down while both replicas take load, ms (issue 13: 30 s). */
  const OUTAGE_MS = 30_000;
  let server: OwnMariaDb;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    server = await startOwnMariaDb();
    await migrate(server.settings);
    [a, b] = await Promise.all([startReplica(server.settings), startReplica(server.settings)]);
    expect((await admin(a, 'POST', '/v1/sources', { id: 'shop', name: 'Shop' })).statusCode).toBe(201);
    await waitFor(async () => (await track(b, 'shop', [{ type: 'warm-up' }])).statusCode === 200, 5000);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.destroy();
  });

  it('known sources keep getting 200 and every answered event is published exactly once; admin calls answer a coded 503 and recover; readiness reports stale without failing', async () => {
    const answered = new Map<Replica, string[]>([[a, []], [b, []]]);
    const failures: number[] = [];
    let sequence = 0;
    let loading = true;
    const load = async (replica: Replica) => {
      while (loading) {
        const id = `e-${String((sequence += 1))}`;
        const response = await track(replica, 'shop', [{ id, type: 'view' }]);
        if (response.statusCode === 200) answered.get(replica)?.push(id);
        else failures.push(response.statusCode);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const loads = [load(a), load(b)];
    await new Promise((resolve) => setTimeout(resolve, 1000));

    await server.kill();
    const downAt = Date.now();
    // Both replicas notice within a refresh and report stale, still ready.
    await waitFor(async () => (await readyz(a)).body.dependencies['configStore']?.detail?.stale === true && (await readyz(b)).body.dependencies['configStore']?.detail?.stale === true, TTL_SECONDS * 1000 + 3000, () => 'the replicas never reported stale');
    const stale = await readyz(b);
    expect(stale.status).toBe(200);
    expect(stale.body.dependencies['configStore']).toMatchObject({ ok: true, detail: { stale: true }, error: expect.stringMatching(/serving the configuration of revision/) as unknown });
    // Admin calls fail fast with a coded 503.
    const adminStarted = Date.now();
    const refused = await admin(a, 'POST', '/v1/sources', { id: 'during', name: 'During' });
    expect(refused.statusCode).toBe(503);
    expect(['CONFIG_UNAVAILABLE', 'POOL_TIMEOUT']).toContain(refused.json<{ code: string }>().code);
    expect(Date.now() - adminStarted).toBeLessThan(3000);
    expect((await admin(b, 'GET', '/v1/event-types')).statusCode).toBe(503);
    // A replica starting while MySQL is down waits CONFIG_START_TIMEOUT, then fails with the reason.
    await expect(startReplica(server.settings, { CONFIG_START_TIMEOUT: '2' })).rejects.toMatchObject({ code: 'CONFIG_UNAVAILABLE', message: expect.stringMatching(/within CONFIG_START_TIMEOUT \(2 s\)/) as unknown });

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    await server.start();
    // Admin calls recover, and both replicas become fresh again.
    await waitFor(async () => (await admin(a, 'POST', '/v1/sources', { id: 'after', name: 'After' })).statusCode === 201, 15_000, () => 'admin calls never recovered');
    await waitFor(async () => (await readyz(a)).body.dependencies['configStore']?.detail?.stale === false && (await readyz(b)).body.dependencies['configStore']?.detail?.stale === false, 10_000, () => 'the replicas stayed stale');
    await waitFor(async () => (await track(b, 'after', [{ type: 'view' }])).statusCode === 200, TTL_SECONDS * 1000 + 2000, () => 'a source created after the outage never reached B');
    loading = false;
    await Promise.all(loads);

    expect(failures).toEqual([]);
    for (const replica of [a, b]) {
      const ids = answered.get(replica) ?? [];
      expect(ids.length).toBeGreaterThan(100);
      // Published once each (plus the warm-up and the post-outage check events, not in `ids`).
      const published = (await publishedIds(replica, ids.length + 3)).filter((id) => id.startsWith('e-'));
      expect(published.sort()).toEqual([...ids].sort());
    }
  }, 120_000);
});
