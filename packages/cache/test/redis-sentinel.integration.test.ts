// The Redis ProfileCache through Redis Sentinel (`npm run engines:up -- redis-sentinel`: a
// primary, a replica, three sentinels): the conformance suite, then a failover under load.
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { loadConfig } from '@sluice/config';
import { Metrics } from '@sluice/observability';
import { engineEnv, randomName, waitFor } from '@sluice/testkit';
import { RedisProfileCache, type RedisConnectionConfig } from '../src/index.ts';
import { runProfileCacheConformance } from '../src/conformance.ts';

const env = engineEnv('redis-sentinel');
// Through the configuration, as a deployment sets it.
const config = loadConfig({ CACHE_ADAPTER: 'redis', ...env });
const connection: RedisConnectionConfig = config.redis;
const master = env['REDIS_SENTINEL_MASTER']!;
const [firstSentinel] = config.redis.sentinel?.sentinels ?? [];
const KEY_PREFIX = 'sluice-test:cache:';

const sentinel = new Redis({ host: firstSentinel?.host, port: firstSentinel?.port, lazyConnect: true, disconnectTimeout: 100 });
afterAll(() => sentinel.disconnect());

async function primaryAddress(): Promise<string> {
  const [host, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', master)) as [string, string];
  return `${host}:${port}`;
}

/** A direct client of the current primary (for cleanup and replication checks). */
async function primaryClient(): Promise<Redis> {
  const [host, port] = (await primaryAddress()).split(':');
  return new Redis({ host, port: Number(port), password: env['REDIS_PASSWORD']!, disconnectTimeout: 100 });
}

runProfileCacheConformance('redis', async () => {
  const prefix = `${randomName()}:`;
  const cache = await RedisProfileCache.open({ connection, keyPrefix: KEY_PREFIX, commandTimeoutMs: 1000 });
  return {
    cache,
    prefix,
    cleanup: async () => {
      const primary = await primaryClient();
      const keys = await primary.keys(`${KEY_PREFIX}${prefix}*`);
      if (keys.length > 0) await primary.del(...keys);
      primary.disconnect();
    },
  };
});

describe('RedisProfileCache through Sentinel', () => {
  it('reports sentinel mode in its health', async () => {
    const cache = await RedisProfileCache.open({ connection, keyPrefix: KEY_PREFIX, commandTimeoutMs: 1000 });
    try {
      expect(await cache.health()).toMatchObject({ ok: true, adapter: 'redis', detail: { mode: 'sentinel', status: 'ready' } });
    } finally {
      await cache.close();
    }
  });

  it('keeps working within seconds of a failover, with the bindings made before it', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const prefix = `${KEY_PREFIX}${randomName()}:`;
    const cache = await RedisProfileCache.open({ connection, keyPrefix: prefix, commandTimeoutMs: 500, metrics });
    try {
      for (let n = 0; n < 20; n += 1) expect(await cache.claim(`session-${String(n)}`, `profile-${String(n)}`, 300)).toBe(`profile-${String(n)}`);
      // Replicated before the switch, so that the test is about the adapter, not about
      // Redis's asynchronous replication (which can lose the last writes in a failover).
      // An earlier failover leaves the demoted primary resyncing for a while: wait for it.
      const before = await primaryClient();
      try {
        await waitFor(async () => /slave0:.*state=online/.test(await before.info('replication')), 30_000, () => 'the primary has no replica online');
        expect(await before.call('WAIT', '1', '2000')).toBe(1);
      } finally {
        before.disconnect();
      }
      const oldPrimary = await primaryAddress();

      // Claims keep coming, as requests would, while the sentinels switch the primary.
      let failures = 0;
      let lastFailureAt = 0;
      let running = true;
      const load = (async () => {
        for (let n = 0; running; n += 1) {
          try {
            await cache.claim(`during-${String(n)}`, 'p', 300);
          } catch {
            failures += 1;
            lastFailureAt = Date.now();
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const switchedAt = Date.now();
      expect(await sentinel.call('SENTINEL', 'FAILOVER', master)).toBe('OK');
      await waitFor(async () => (await primaryAddress()) !== oldPrimary, 15_000, () => 'the sentinels did not switch the primary');
      // Working again: a write through the cache lands on the new primary. (Writes that
      // reach the old primary in the moment before it is demoted are lost: Redis replicates
      // asynchronously. docs/redis.md says so.)
      const newPrimary = await primaryClient();
      await waitFor(async () => {
        const marker = randomName();
        await cache.set('after', marker, 60).catch(() => undefined);
        return (await newPrimary.get(`${prefix}after`)) === marker;
      }, 10_000, () => 'the cache did not follow the new primary');
      newPrimary.disconnect();
      // ioredis may reconnect once more, or twice, when the sentinels' +switch-master reaches
      // it after it had already found the new primary (a brief burst of fast failures, as the
      // cache has no offline queue; clean-clone CI runs saw one 1 s after the cache was back).
      // Recovered means two seconds of load without a failure, within the 10 s bound below.
      await waitFor(() => Date.now() - Math.max(lastFailureAt, switchedAt) >= 2000, 15_000, () => 'claims kept failing after the switch');
      running = false;
      await load;
      const recoveredInMs = (lastFailureAt === 0 ? switchedAt : lastFailureAt) - switchedAt;
      expect(recoveredInMs).toBeLessThan(10_000);
      for (let n = 0; n < 20; n += 1) expect(await cache.claim(`session-${String(n)}`, 'late', 300)).toBe(`profile-${String(n)}`);
      expect(await cache.health()).toMatchObject({ ok: true, detail: { mode: 'sentinel' } });
      process.stdout.write(`failover: last failed claim ${String(recoveredInMs)} ms after SENTINEL FAILOVER, ${String(failures)} claims failed in all\n`);
    } finally {
      await cache.close();
      const primary = await primaryClient();
      const keys = await primary.keys(`${prefix}*`);
      if (keys.length > 0) await primary.del(...keys);
      primary.disconnect();
    }
  }, 60_000);
});
