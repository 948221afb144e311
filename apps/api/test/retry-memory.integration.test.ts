// The retry memory across replicas sharing the Redis cache: a body answered 503 by one
// replica is recognised when its retry reaches another, without any replica looking the
// cache up for every request.
import { afterAll, describe, expect, it } from '@jest/globals';
import { RedisProfileCache } from '@sluice/cache';
import { engineEnv, randomName, waitFor } from '@sluice/testkit';
import { RetryMemory } from '../src/retry-memory.ts';

const env = engineEnv('redis');
const open = (prefix: string) => RedisProfileCache.open({ connection: { url: env['REDIS_HOST']!, password: env['REDIS_PASSWORD']! }, keyPrefix: prefix, commandTimeoutMs: 1000 });
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('RetryMemory on a shared cache', () => {
  it('lets another replica recall a 503\'d body within a poll, and looks nothing up before any 503', async () => {
    const prefix = `${randomName('retry')}:`;
    const [cacheA, cacheB] = [await open(prefix), await open(prefix)];
    const [a, b] = [new RetryMemory(cacheA, 60), new RetryMemory(cacheB, 60)];
    closers.push(() => a.close(), () => b.close(), () => cacheA.close(), () => cacheB.close());
    // No replica answered a 503: no request needs a lookup.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(a.mayRecall).toBe(false);
    expect(b.mayRecall).toBe(false);

    const key = a.keyOf('web', '{"body":1}', true)!;
    const decisions = { profileId: 'p', sessionId: 's', receivedAt: '2026-12-01T00:00:00.000Z', ids: ['e-1'] };
    await a.remember(key, decisions);
    expect(a.mayRecall).toBe(true);
    // B learns it within its poll interval (200 ms), before a client honouring Retry-After: 1 retries.
    await waitFor(() => b.mayRecall, 1000, () => 'replica b never learnt of the 503');
    expect(await b.recall(b.keyOf('web', '{"body":1}', true)!)).toEqual(decisions);
    await b.forget(key);
    expect(await a.recall(key)).toBeUndefined();
  });
});
