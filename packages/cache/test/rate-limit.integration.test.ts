// Rate limits on the real Redis: counted across limiter instances (replicas), and failing
// open to a local bucket per instance while Redis cannot be reached.
import { afterAll, describe, expect, it } from '@jest/globals';
import { RedisProfileCache, limitWindow } from '@sluice/cache';
import { engineEnv, freePort, randomName } from '@sluice/testkit';

const env = engineEnv('redis');
const caches: RedisProfileCache[] = [];
afterAll(async () => {
  for (const cache of caches.splice(0)) await cache.close();
});

async function open(url: string, prefix: string, waitMs = 5000): Promise<RedisProfileCache> {
  const cache = await RedisProfileCache.open({ connection: { url, password: env['REDIS_PASSWORD']! }, keyPrefix: prefix, commandTimeoutMs: 500 }, waitMs);
  caches.push(cache);
  return cache;
}

describe('RedisRateLimiter', () => {
  it('counts one allowance across two replicas, per key', async () => {
    const prefix = `${randomName('rl')}:`;
    const [a, b] = [(await open(env['REDIS_HOST']!, prefix)).rateLimiter({ maxEventsPerRequest: 10 }), (await open(env['REDIS_HOST']!, prefix)).rateLimiter({ maxEventsPerRequest: 10 })];
    const decisions = [];
    for (let i = 0; i < 6; i += 1) decisions.push(await (i % 2 === 0 ? a : b).take('web', 5, 20));
    // 20 events/s, a window of 1 s: 4 takes of 5 pass, the next ones wait for the window.
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, true, false, false]);
    const refused = decisions[4]!;
    expect(refused.allowed ? 0 : refused.retryAfterMs).toBeGreaterThan(0);
    expect((await a.take('app', 5, 20)).allowed).toBe(true);
    expect(limitWindow(2, 10)).toEqual({ seconds: 5, points: 10 });
  });

  it('fails open to a local bucket per replica while Redis cannot be reached, counting the fallbacks', async () => {
    let fallbacks = 0;
    const unreachable = `redis://127.0.0.1:${String(await freePort())}`;
    const limiter = (await open(unreachable, `${randomName('rl')}:`, 200)).rateLimiter({ maxEventsPerRequest: 10, onFallback: () => (fallbacks += 1) });
    const decisions = [];
    for (let i = 0; i < 3; i += 1) decisions.push(await limiter.take('web', 10, 20));
    // Decided at once, locally, with the same limit: 20 per window, so the third take waits.
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, false]);
    expect(fallbacks).toBe(3);
  });
});
