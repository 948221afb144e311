import { afterEach, describe, expect, it } from '@jest/globals';
import type { ProfileCache } from './port.ts';

export interface CacheTestContext {
  readonly cache: ProfileCache;
  /** A unique key prefix, so runs never see each other's keys. */
  readonly prefix: string;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The ProfileCache contract. Every adapter runs it unchanged. */
export function runProfileCacheConformance(adapterName: string, createContext: () => Promise<CacheTestContext>): void {
  describe(`ProfileCache conformance: ${adapterName}`, () => {
    let context: CacheTestContext | undefined;
    const open = async () => {
      context = await createContext();
      return { cache: context.cache, key: (name: string) => `${context?.prefix ?? ''}${name}` };
    };

    afterEach(async () => {
      await context?.cache.close();
      await context?.cleanup();
      context = undefined;
    });

    it('stores, reads and deletes values', async () => {
      const { cache, key } = await open();
      expect(await cache.get(key('a'))).toBeUndefined();
      await cache.set(key('a'), 'one', 60);
      expect(await cache.get(key('a'))).toBe('one');
      await cache.delete(key('a'));
      expect(await cache.get(key('a'))).toBeUndefined();
    });

    it('expires values after their TTL', async () => {
      const { cache, key } = await open();
      await cache.set(key('ttl'), 'v', 1);
      expect(await cache.get(key('ttl'))).toBe('v');
      await sleep(1300);
      expect(await cache.get(key('ttl'))).toBeUndefined();
    });

    it('gives every concurrent claim of one key the same winner', async () => {
      const { cache, key } = await open();
      const claims = await Promise.all(Array.from({ length: 50 }, (_, n) => cache.claim(key('session'), `candidate-${n}`, 60)));
      expect(new Set(claims).size).toBe(1);
      expect(await cache.get(key('session'))).toBe(claims[0]);
      expect(await cache.claim(key('session'), 'late', 60)).toBe(claims[0]);
    });

    it('refreshes the TTL of a claimed key (sliding expiry)', async () => {
      const { cache, key } = await open();
      await cache.claim(key('slide'), 'first', 2);
      await sleep(1200);
      expect(await cache.claim(key('slide'), 'second', 2)).toBe('first');
      await sleep(1200);
      expect(await cache.get(key('slide'))).toBe('first');
    });

    it('reports health', async () => {
      const { cache } = await open();
      expect(await cache.health()).toMatchObject({ ok: true, adapter: adapterName });
    });
  });
}
