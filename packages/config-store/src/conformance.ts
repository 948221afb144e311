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

    it('keeps a source\'s rate limit and unknown-type policy', async () => {
      const store = await open();
      expect(await store.createSource({ id: 'plain', name: 'Plain' })).toMatchObject({ rateLimit: null, allowUnknownEventTypes: true });
      const strict = await store.createSource({ id: 'strict', name: 'Strict', rateLimit: 50, allowUnknownEventTypes: false });
      expect(strict).toMatchObject({ rateLimit: 50, allowUnknownEventTypes: false });
      expect(await store.getSource('strict')).toEqual(strict);
      expect(await store.updateSource('strict', { rateLimit: null })).toMatchObject({ rateLimit: null, allowUnknownEventTypes: false, name: 'Strict' });
      expect(await store.updateSource('plain', { rateLimit: 7, allowUnknownEventTypes: false })).toMatchObject({ rateLimit: 7, allowUnknownEventTypes: false });
    });

    it('creates, reads, lists, updates and deletes event types; every change raises the version', async () => {
      const store = await open();
      const schema = { type: 'object', required: ['price'], properties: { price: { type: 'number' }, 'name/é': { type: 'string' } } };
      const created = await store.createEventType({ name: 'purchase', schema, onInvalid: 'dead-letter', description: 'A sale' });
      expect(created).toMatchObject({ name: 'purchase', schema, enabled: true, onInvalid: 'dead-letter', description: 'A sale', version: 1 });
      expect(await store.createEventType({ name: 'page-view' })).toMatchObject({ schema: null, onInvalid: 'reject', enabled: true, description: '', version: 1 });
      expect((await store.listEventTypes()).map((eventType) => eventType.name)).toEqual(['page-view', 'purchase']);
      await expect(store.createEventType({ name: 'purchase' })).rejects.toMatchObject({ code: 'CONFLICT' });
      const updated = await store.updateEventType('purchase', { enabled: false });
      expect(updated).toMatchObject({ enabled: false, schema, onInvalid: 'dead-letter', version: 2 });
      expect(await store.updateEventType('purchase', { schema: null, onInvalid: 'reject' })).toMatchObject({ schema: null, onInvalid: 'reject', version: 3 });
      expect(await store.getEventType('purchase')).toMatchObject({ version: 3 });
      expect(await store.updateEventType('missing', { enabled: true })).toBeUndefined();
      expect(await store.deleteEventType('purchase')).toBe(true);
      expect(await store.deleteEventType('purchase')).toBe(false);
      expect(await store.getEventType('purchase')).toBeUndefined();
    });

    it('stores settings as JSON values', async () => {
      const store = await open();
      expect(await store.getSetting('retention')).toBeUndefined();
      await store.putSetting('retention', { days: 30 });
      await store.putSetting('flag', true);
      expect(await store.getSetting('retention')).toMatchObject({ key: 'retention', value: { days: 30 } });
      await store.putSetting('retention', { days: 7 });
      expect((await store.listSettings()).map((setting) => [setting.key, setting.value])).toEqual([['flag', true], ['retention', { days: 7 }]]);
      expect(await store.deleteSetting('flag')).toBe(true);
      expect(await store.deleteSetting('flag')).toBe(false);
    });

    it('changes its revision on every write of a source or an event type, and snapshots both', async () => {
      const store = await open();
      const seen = [await store.revision()];
      await store.createSource({ id: 'a', name: 'A' });
      seen.push(await store.revision());
      await store.updateSource('a', { enabled: false });
      seen.push(await store.revision());
      await store.createEventType({ name: 'click' });
      seen.push(await store.revision());
      await store.updateEventType('click', { enabled: false });
      seen.push(await store.revision());
      await store.deleteSource('a');
      seen.push(await store.revision());
      expect(new Set(seen).size).toBe(seen.length);
      await store.deleteSource('a');
      expect(await store.revision()).toBe(seen.at(-1));
      await store.createSource({ id: 'b', name: 'B' });
      const snapshot = await store.snapshot();
      expect(snapshot.revision).toBe(await store.revision());
      expect(snapshot.sources.map((source) => source.id)).toEqual(['b']);
      expect(snapshot.eventTypes).toEqual([expect.objectContaining({ name: 'click', enabled: false, version: 2 })]);
    });

    it('reports health and closes idempotently', async () => {
      const store = await open();
      expect(await store.health()).toMatchObject({ ok: true, adapter: adapterName });
      await store.close();
      await store.close();
      expect((await store.health()).ok).toBe(false);
      await expect(store.listSources()).rejects.toMatchObject({ code: 'CONFIG_UNAVAILABLE' });
    });
  });
}
