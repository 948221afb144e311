// The Redis ProfileCache on the real Redis of `npm run engines:up`, and on a redis-server of
// its own that the outage tests pause (SIGSTOP), kill and restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { Metrics } from '@sluice/observability';
import { engineEnv, freePort, randomName, waitFor } from '@sluice/testkit';
import { RedisProfileCache } from '../src/index.ts';
import { runProfileCacheConformance } from '../src/conformance.ts';

const env = engineEnv('redis');
const connection = { url: env['REDIS_HOST']!, password: env['REDIS_PASSWORD']! };
const KEY_PREFIX = 'sluice-test:cache:';

/** A plain client to look at what the adapter wrote, and to clean up. */
const raw = new Redis(connection.url, { password: connection.password, lazyConnect: true });
afterAll(() => raw.disconnect());

async function deleteKeys(pattern: string): Promise<void> {
  for await (const keys of raw.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) if (keys.length > 0) await raw.del(...keys);
}

runProfileCacheConformance('redis', async () => {
  const prefix = `${randomName()}:`;
  const cache = await RedisProfileCache.open({ connection, keyPrefix: KEY_PREFIX, commandTimeoutMs: 1000 });
  return { cache, prefix, cleanup: () => deleteKeys(`${KEY_PREFIX}${prefix}*`) };
});

describe('with REDIS_COMMAND_LINGER', () => {
  runProfileCacheConformance('redis', async () => {
    const prefix = `${randomName()}:`;
    const cache = await RedisProfileCache.open({ connection, keyPrefix: KEY_PREFIX, commandTimeoutMs: 1000, commandLingerMs: 5 });
    return { cache, prefix, cleanup: () => deleteKeys(`${KEY_PREFIX}${prefix}*`) };
  });
});

/** Replies Redis has written to its clients so far (each write may carry several replies). */
async function redisWrites(): Promise<number> {
  return Number(/total_writes_processed:(\d+)/.exec(await raw.info('stats'))?.[1]);
}

describe('RedisProfileCache on the engines Redis', () => {
  it('stores under the configured key prefix with the TTL asked for', async () => {
    const prefix = `${randomName()}-sluice:cache:`;
    const cache = await RedisProfileCache.open({ connection, keyPrefix: prefix, commandTimeoutMs: 1000 });
    try {
      await cache.set('session:a', 'profile-1', 120);
      await cache.claim('session:b', 'profile-2', 60);
      expect(await raw.get(`${prefix}session:a`)).toBe('profile-1');
      expect(await raw.get(`${prefix}session:b`)).toBe('profile-2');
      expect(await raw.ttl(`${prefix}session:a`)).toBeGreaterThan(110);
      const ttl = await raw.ttl(`${prefix}session:b`);
      expect(ttl).toBeGreaterThan(50);
      expect(ttl).toBeLessThanOrEqual(60);
      expect(await raw.exists('session:a')).toBe(0);
    } finally {
      await cache.close();
      await deleteKeys(`${prefix}*`);
    }
  });

  it('gives concurrent claims from separate connections (as from separate replicas) one winner', async () => {
    const prefix = `${KEY_PREFIX}${randomName()}:`;
    const replicas = await Promise.all(Array.from({ length: 4 }, () => RedisProfileCache.open({ connection, keyPrefix: prefix, commandTimeoutMs: 2000 })));
    try {
      for (let session = 0; session < 20; session += 1) {
        const claims = await Promise.all(replicas.flatMap((replica, r) => Array.from({ length: 5 }, (_, n) => replica.claim(`session-${String(session)}`, `p-${String(r)}-${String(n)}`, 60))));
        expect(new Set(claims).size).toBe(1);
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
      await deleteKeys(`${prefix}*`);
    }
  });

  it('counts hits, misses and latency by operation on the injected Metrics', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const prefix = `${KEY_PREFIX}${randomName()}:`;
    const cache = await RedisProfileCache.open({ connection, keyPrefix: prefix, commandTimeoutMs: 1000, metrics });
    try {
      await cache.get('absent');
      await cache.claim('s', 'first', 60);
      await cache.claim('s', 'second', 60);
      await cache.get('s');
      const text = await metrics.registry.metrics();
      expect(text).toContain('sluice_cache_hits_total{operation="get"} 1');
      expect(text).toContain('sluice_cache_misses_total{operation="get"} 1');
      expect(text).toContain('sluice_cache_hits_total{operation="claim"} 1');
      expect(text).toContain('sluice_cache_misses_total{operation="claim"} 1');
      expect(text).toContain('sluice_cache_command_duration_seconds_count{operation="claim"} 2');
      expect(text).not.toContain('sluice_cache_errors_total{');
    } finally {
      await cache.close();
      await deleteKeys(`${prefix}*`);
    }
  });

  it('with REDIS_COMMAND_LINGER sends the commands issued within it as one pipeline', async () => {
    const prefix = `${KEY_PREFIX}${randomName()}:`;
    /** Issues eight commands 5 ms apart (as eight requests arriving); Redis's writes meanwhile, less INFO's own. */
    const writesFor = async (cache: RedisProfileCache): Promise<number> => {
      const before = await redisWrites();
      const answers: Promise<unknown>[] = [];
      for (let n = 0; n < 8; n += 1) {
        answers.push(n % 2 === 0 ? cache.claim(`s-${String(n)}`, `p-${String(n)}`, 60) : cache.get(`s-${String(n - 1)}`));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const results = await Promise.all(answers);
      // One connection keeps the order: each get sees the claim issued before it.
      expect(results).toEqual(['p-0', 'p-0', 'p-2', 'p-2', 'p-4', 'p-4', 'p-6', 'p-6']);
      return (await redisWrites()) - before - 1;
    };
    const lingering = await RedisProfileCache.open({ connection, keyPrefix: prefix, commandTimeoutMs: 1000, commandLingerMs: 100 });
    const eager = await RedisProfileCache.open({ connection, keyPrefix: prefix, commandTimeoutMs: 1000 });
    try {
      // Within the 100 ms linger all eight go together (a second write only if the host stalled).
      expect(await writesFor(lingering)).toBeLessThanOrEqual(2);
      // Without it each goes when issued: a write each (two merge only if Redis stalled 5 ms).
      expect(await writesFor(eager)).toBeGreaterThanOrEqual(5);
    } finally {
      await Promise.all([lingering.close(), eager.close()]);
      await deleteKeys(`${prefix}*`);
    }
  });

  it('answers a rate limit take issued in the same tick as cache commands (as two requests\' are under load)', async () => {
    const prefix = `${KEY_PREFIX}${randomName()}:`;
    // ioredis 5.11 cannot auto-pipeline rate-limiter-flexible's script with other commands: it
    // threw an uncaught TypeError from its reply callbacks, which would end an API replica.
    for (const commandLingerMs of [0, 20]) {
      const cache = await RedisProfileCache.open({ connection, keyPrefix: prefix, commandTimeoutMs: 1000, commandLingerMs });
      try {
        const limiter = cache.rateLimiter({ maxEventsPerRequest: 10 });
        const answers = await Promise.all([cache.claim('s', 'p', 60), limiter.take(randomName(), 1, 100), cache.get('s'), limiter.take(randomName(), 1, 100)]);
        expect(answers).toEqual(['p', { allowed: true }, 'p', { allowed: true }]);
      } finally {
        await cache.close();
      }
    }
    await deleteKeys(`${prefix}*`);
  });

  it('is degraded (not failed) with a wrong password, and says why', async () => {
    const cache = await RedisProfileCache.open({ connection: { ...connection, password: 'wrong-password' }, keyPrefix: KEY_PREFIX, commandTimeoutMs: 500 }, 1000);
    try {
      expect(await cache.health()).toMatchObject({ ok: true, degraded: true, adapter: 'redis', error: expect.stringMatching(/.+/) as unknown });
      await expect(cache.get('any')).rejects.toThrow();
    } finally {
      await cache.close();
    }
  });
});

describe('RedisProfileCache through an outage of its own redis-server', () => {
  let server: ChildProcess | undefined;
  let port = 0;
  const start = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false, disconnectTimeout: 100 });
    probe.on('error', () => undefined);
    await waitFor(async () => (await probe.connect().then(() => probe.ping(), () => undefined)) === 'PONG', 10_000, () => 'redis-server did not start');
    probe.disconnect();
  };
  const stop = async () => {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server?.kill('SIGKILL');
    await exited;
    server = undefined;
  };
  afterAll(async () => {
    if (server !== undefined) {
      server.kill('SIGCONT');
      await stop();
    }
  });

  it('fails a command after REDIS_COMMAND_TIMEOUT when Redis hangs, fails fast while it is down, and recovers by itself', async () => {
    port = await freePort();
    await start();
    const metrics = new Metrics({ defaultMetrics: false });
    const cache = await RedisProfileCache.open({ connection: { url: `redis://127.0.0.1:${String(port)}/3` }, keyPrefix: KEY_PREFIX, commandTimeoutMs: 300, metrics });
    try {
      await cache.set('k', 'v', 60);
      expect(await cache.health()).toMatchObject({ ok: true, adapter: 'redis', detail: { mode: 'standalone', status: 'ready' } });

      // Hung: the process is there but answers nothing.
      server?.kill('SIGSTOP');
      let at = Date.now();
      await expect(cache.get('k')).rejects.toThrow(/timed out/i);
      expect(Date.now() - at).toBeLessThan(1500);
      // Taken as down for a second: commands fail at once instead of queueing behind the hung pipeline.
      at = Date.now();
      await expect(cache.claim('k2', 'v', 60)).rejects.toThrow(/taken as down/);
      // Well below the 300 ms command timeout it would otherwise wait (a loaded CI machine
      // stalls this process tens of ms now and then).
      expect(Date.now() - at).toBeLessThan(250);
      expect(await cache.health()).toMatchObject({ ok: true, degraded: true });
      server?.kill('SIGCONT');
      await waitFor(async () => (await cache.health()).degraded !== true, 10_000, () => 'no recovery after SIGCONT');

      // Down: no offline queue, so a command fails at once instead of waiting for Redis.
      await stop();
      await waitFor(() => cache.health().then((health) => health.degraded === true), 5000, () => 'health not degraded with Redis down');
      at = Date.now();
      await expect(cache.claim('s', 'p', 60)).rejects.toThrow();
      expect(Date.now() - at).toBeLessThan(250);

      // Back (empty: no persistence): the cache reconnects without being told.
      await start();
      await waitFor(async () => (await cache.health()).degraded !== true, 10_000, () => 'no reconnection after restart');
      expect(await cache.claim('s', 'p', 60)).toBe('p');
      // The db number of the URL is used.
      const direct = new Redis({ port, db: 3 });
      expect(await direct.get(`${KEY_PREFIX}s`)).toBe('p');
      direct.disconnect();

      const text = await metrics.registry.metrics();
      expect(text).toMatch(/sluice_cache_errors_total\{operation="get"\} [1-9]/);
      expect(text).toMatch(/sluice_cache_errors_total\{operation="claim"\} [1-9]/);
    } finally {
      await cache.close();
    }
  }, 60_000);
});
