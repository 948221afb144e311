// The MySQL adapter on the engines' MariaDB (a database of its own per test): the same
// conformance suite as the embedded store, and the pool's acquire timeout, connection
// lifetime and concurrent migrations.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Metrics } from '@sluice/observability';
import { MysqlConfigStore, classifyMysqlError, registerPoolMetrics } from '../src/index.ts';
import { runConfigStoreConformance } from '../src/conformance.ts';
import { createTestDatabase, mysqlTestSettings } from '../src/mysql/testing.ts';

runConfigStoreConformance('mysql', async () => {
  const { database, drop } = await createTestDatabase();
  const store = new MysqlConfigStore(mysqlTestSettings(database));
  await store.migrate();
  return { store, cleanup: drop };
});

describe('MySQL pool', () => {
  let database: string;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ database, drop } = await createTestDatabase());
    const store = new MysqlConfigStore(mysqlTestSettings(database));
    await store.migrate();
    await store.close();
  });
  afterAll(() => drop());

  it('times out a call waiting for a connection after MYSQL_POOL_TIMEOUT with POOL_TIMEOUT, and serves again once connections free up', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const observer = registerPoolMetrics(metrics.registry);
    const store = new MysqlConfigStore(mysqlTestSettings(database, { poolSize: 1, maxOverflow: 1, poolTimeoutMs: 400 }), observer);
    observer.attach(store.pool);
    try {
      // Two slow queries hold both connections for 2 s.
      const holding = Promise.all([sleepQuery(store, 2), sleepQuery(store, 2)]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(store.pool.stats()).toMatchObject({ inUse: 2 });
      const started = Date.now();
      await expect(store.listSources()).rejects.toMatchObject({ code: 'POOL_TIMEOUT', statusCode: 503, retryable: true });
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(350);
      expect(waited).toBeLessThan(1500);
      await holding;
      expect(await store.listSources()).toEqual([]);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/sluice_mysql_pool_timeouts_total 1/);
      expect(text).toMatch(/sluice_mysql_pool_acquire_seconds_count [1-9]/);
      expect(text).toMatch(/sluice_mysql_pool_connections\{state="idle"\} [12]/);
    } finally {
      await store.close();
    }
  });

  it('replaces a connection older than MYSQL_POOL_RECYCLE', async () => {
    const store = new MysqlConfigStore(mysqlTestSettings(database, { poolSize: 1, maxOverflow: 0, recycleMs: 500 }));
    try {
      const first = await connectionId(store);
      expect(await connectionId(store)).toBe(first);
      await new Promise((resolve) => setTimeout(resolve, 700));
      const second = await connectionId(store);
      expect(second).not.toBe(first);
      expect(store.pool.stats().recycled).toBe(1);
      expect(store.pool.stats().open).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('fails a query that takes longer than MYSQL_QUERY_TIMEOUT with a retryable CONFIG_UNAVAILABLE', async () => {
    const store = new MysqlConfigStore(mysqlTestSettings(database, { queryTimeoutMs: 300 }));
    try {
      const failure = await sleepQuery(store, 2).then(() => undefined, (error: unknown) => error);
      expect(classifyMysqlError(failure)).toMatchObject({ code: 'CONFIG_UNAVAILABLE', statusCode: 503, retryable: true });
      expect(await store.listSources()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('MySQL migrations', () => {
  it('three processes running the migrations at once leave one schema, and all exit 0', async () => {
    const { database, drop } = await createTestDatabase();
    try {
      const settings = mysqlTestSettings(database);
      const script = `
        import { MysqlConfigStore } from './packages/config-store/src/index.ts';
        const store = new MysqlConfigStore(JSON.parse(process.env.SETTINGS));
        const ran = await store.migrate();
        await store.close();
        process.stdout.write(JSON.stringify(ran));`;
      const runs = await Promise.all([1, 2, 3].map(() => runNode(script, { SETTINGS: JSON.stringify(settings) })));
      expect(runs.map((run) => run.code)).toEqual([0, 0, 0]);
      // Each migration ran exactly once, in one of the three.
      const ran = runs.flatMap((run) => JSON.parse(run.stdout) as string[]).sort();
      expect(ran).toEqual(['0001_sources', '0002_event_types_settings_revision']);
      const store = new MysqlConfigStore(settings);
      expect(await store.pendingMigrations()).toEqual([]);
      expect(await store.migrate()).toEqual([]);
      await store.createSource({ id: 'after', name: 'After' });
      expect(await store.revision()).toBe(1);
      await store.close();
    } finally {
      await drop();
    }
  }, 60_000);
});

/** Runs `statement` on one connection of the store's own pool (as Kysely does), holding it until answered. */
function poolQuery(store: MysqlConfigStore, statement: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    store.pool.getConnection((error, connection) => {
      if (error !== null) return reject(error);
      connection.query(statement, [], (queryError: Error | null, rows: unknown) => {
        connection.release();
        if (queryError !== null) reject(queryError);
        else resolve(rows);
      });
    });
  });
}

/** Holds one pooled connection for `seconds` (SELECT SLEEP). */
function sleepQuery(store: MysqlConfigStore, seconds: number): Promise<unknown> {
  return poolQuery(store, `SELECT SLEEP(${String(seconds)})`);
}

async function connectionId(store: MysqlConfigStore): Promise<number> {
  const rows = (await poolQuery(store, 'SELECT CONNECTION_ID() AS id')) as { id: number }[];
  return Number(rows[0]?.id);
}

function runNode(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
