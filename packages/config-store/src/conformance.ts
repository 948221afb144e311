import { afterEach, describe, expect, it } from '@jest/globals';
import type { ConfigStore } from './port.ts';

export interface ConfigStoreTestContext {
  readonly store: ConfigStore;
  cleanup(): Promise<void>;
}

/** The ConfigStore contract. Every adapter runs it unchanged. */
export function runConfigStoreConformance(adapterName: string, createContext: () => Promise<ConfigStoreTestContext>): void {
  describe(`ConfigStore conformance: ${adapterName}`, () => {
    let context: ConfigStoreTestContext | undefined;
    const open = async () => {
      context = await createContext();
      return context.store;
    };

    afterEach(async () => {
      await context?.store.close();
      await context?.cleanup();
      context = undefined;
    });

    it('creates, reads, lists, updates and deletes sources', async () => {
      const store = await open();
      const created = await store.createSource({ id: 'web', name: 'Website', allowedOrigins: ['https://shop.example'] });
      expect(created).toMatchObject({ id: 'web', name: 'Website', enabled: true, allowedOrigins: ['https://shop.example'] });
      await store.createSource({ id: 'app', name: 'App', enabled: false });
      expect((await store.listSources()).map((source) => source.id)).toEqual(['app', 'web']);
      const updated = await store.updateSource('web', { enabled: false, allowedOrigins: ['*'] });
      expect(updated).toMatchObject({ enabled: false, allowedOrigins: ['*'], name: 'Website' });
      expect(await store.getSource('web')).toEqual(updated);
      expect(await store.deleteSource('web')).toBe(true);
      expect(await store.deleteSource('web')).toBe(false);
      expect(await store.getSource('web')).toBeUndefined();
      expect(await store.updateSource('missing', { enabled: true })).toBeUndefined();
    });

    it('refuses a duplicate id with CONFLICT', async () => {
      const store = await open();
      await store.createSource({ id: 'dup', name: 'one' });
      await expect(store.createSource({ id: 'dup', name: 'two' })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await store.getSource('dup'))?.name).toBe('one');
    });

    it('reports health and closes idempotently', async () => {
      const store = await open();
      expect(await store.health()).toMatchObject({ ok: true, adapter: adapterName });
      await store.close();
      await store.close();
      expect((await store.health()).ok).toBe(false);
    });
  });
}
