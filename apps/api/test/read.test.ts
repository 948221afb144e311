import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { eventsOnly, sampleEvent } from '@sluice/store/conformance';
import { ADMIN_TOKEN, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.close());

const get = (url: string, token: string | null = ADMIN_TOKEN) =>
  h.api.app.inject({ method: 'GET', url, headers: token === null ? {} : { authorization: `Bearer ${token}` } });

describe('operator read API', () => {
  it('refuses requests without the admin token', async () => {
    expect((await get('/v1/profiles/p', null)).json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
    expect((await get('/v1/profiles/p', 'wrong-token-of-some-length')).statusCode).toBe(401);
  });

  it('returns a profile, 404 for an unknown one', async () => {
    await h.adapters.store.writeBatch({ events: [], profiles: [{ id: 'p1', firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-02T00:00:00.000Z', lastSessionId: 's', lastSourceId: 'demo', version: 3 }], sessions: [] });
    expect((await get('/v1/profiles/p1')).json()).toMatchObject({ id: 'p1', version: 3 });
    expect((await get('/v1/profiles/nobody')).json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    expect((await get('/v1/profiles/bad%20id!')).json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', message: expect.stringMatching(/^params \/id: must match pattern/) as unknown });
  });

  it('pages a profile\'s events newest first by receive time, not by client time', async () => {
    const base = Date.now() - 60_000;
    const received = (n: number) => new Date(base + n * 1000).toISOString();
    const events = Array.from({ length: 5 }, (_, n) => sampleEvent({ profileId: 'p2', receivedAt: received(n), time: n === 0 ? '9999-12-31T23:59:59.999Z' : `2026-01-0${String(6 - n)}T00:00:00.000Z` }));
    await h.adapters.store.writeBatch(eventsOnly(events));
    const first = (await get('/v1/profiles/p2/events?limit=3')).json<{ events: { receivedAt: string }[]; next: string }>();
    expect(first.events.map((event) => event.receivedAt)).toEqual([received(4), received(3), received(2)]);
    const second = (await get(`/v1/profiles/p2/events?limit=3&cursor=${first.next}`)).json<{ events: unknown[]; next?: string }>();
    expect(second.events).toHaveLength(2);
    expect(second.next).toBeUndefined();
    expect((await get('/v1/profiles/p2/events?cursor=garbage')).json()).toMatchObject({ code: 'INVALID_CURSOR' });
    expect((await get('/v1/profiles/p2/events?limit=5000')).json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('returns an event by its source and id, never another source\'s event of that id', async () => {
    const shop = sampleEvent({ id: 'order-1001', sourceId: 'shop', properties: { total: 99 } });
    const demo = sampleEvent({ id: 'order-1001', sourceId: 'demo', properties: { total: 1 } });
    await h.adapters.store.writeBatch(eventsOnly([demo, shop]));
    expect((await get('/v1/sources/shop/events/order-1001')).json()).toEqual(shop);
    expect((await get('/v1/sources/demo/events/order-1001')).json()).toEqual(demo);
    expect((await get('/v1/sources/other/events/order-1001')).json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    expect((await get('/v1/sources/shop/events/order-1001', null)).json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
    expect((await get('/v1/sources/shop/events/%2Fbad')).json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
    // The route before per-source ids is gone.
    expect((await get('/v1/events/order-1001')).json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
  });

  it('answers 403 ADMIN_DISABLED when no ADMIN_TOKEN is configured', async () => {
    await h.close();
    h = await startHarness({ ADMIN_TOKEN: '' });
    expect((await get('/v1/profiles/p1')).json()).toMatchObject({ statusCode: 403, code: 'ADMIN_DISABLED' });
  });
});

describe('admin sources API', () => {
  it('creates, updates, lists and deletes sources', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const created = await h.api.app.inject({ method: 'POST', url: '/v1/sources', headers: auth, payload: { id: 'shop', name: 'Shop', allowedOrigins: ['https://shop.example'] } });
    expect(created.statusCode).toBe(201);
    const duplicate = await h.api.app.inject({ method: 'POST', url: '/v1/sources', headers: auth, payload: { id: 'shop', name: 'Again' } });
    expect(duplicate.json()).toMatchObject({ statusCode: 409, code: 'CONFLICT' });
    const badOrigin = await h.api.app.inject({ method: 'POST', url: '/v1/sources', headers: auth, payload: { id: 'x', name: 'X', allowedOrigins: ['javascript:alert(1)'] } });
    expect(badOrigin.statusCode).toBe(400);
    const patched = await h.api.app.inject({ method: 'PATCH', url: '/v1/sources/shop', headers: auth, payload: { enabled: false } });
    expect(patched.json()).toMatchObject({ id: 'shop', enabled: false });
    const listed = (await get('/v1/sources')).json<{ sources: { id: string }[] }>();
    expect(listed.sources.map((source) => source.id)).toEqual(['demo', 'shop']);
    expect((await h.api.app.inject({ method: 'DELETE', url: '/v1/sources/shop', headers: auth })).statusCode).toBe(204);
    expect((await get('/v1/sources/shop')).statusCode).toBe(404);
  });

  it('refuses ids and origins /track could not use, with the rules `sluice sources` applies too, and creates nothing', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const post = (payload: object) => h.api.app.inject({ method: 'POST', url: '/v1/sources', headers: auth, payload });
    for (const [id, path] of [['bad id!', '/id'], ['', '/id'], ['a/b', '/id'], ['x'.repeat(129), '/id']] as const) {
      expect({ id, body: (await post({ id, name: 'N' })).json() }).toMatchObject({ id, body: { statusCode: 400, code: 'VALIDATION_FAILED', details: [{ path }] } });
    }
    for (const origin of ['*.example.com', 'javascript:alert(1)', 'not an origin', 'https://shop.example/']) {
      expect({ origin, body: (await post({ id: 'shop', name: 'Shop', allowedOrigins: ['*', origin] })).json() }).toMatchObject({ origin, body: { statusCode: 400, code: 'VALIDATION_FAILED', details: [{ path: '/allowedOrigins/1' }] } });
    }
    const slash = (await post({ id: 'shop', name: 'Shop', allowedOrigins: ['https://shop.example/'] })).json<{ message: string }>();
    expect(slash.message).toContain('did you mean https://shop.example?');
    const badPatch = await h.api.app.inject({ method: 'PATCH', url: '/v1/sources/demo', headers: auth, payload: { allowedOrigins: ['javascript:alert(1)'] } });
    expect(badPatch.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', details: [{ path: '/allowedOrigins/0' }] });
    expect((await get('/v1/sources')).json<{ sources: { id: string; allowedOrigins: string[] }[] }>().sources).toEqual([expect.objectContaining({ id: 'demo', allowedOrigins: ['*'] })]);
  });

  it('checks the id in a source URL against the source id rule, as the event routes do', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const response = await h.api.app.inject({ method, url: '/v1/sources/bad%20id!', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, ...(method === 'PATCH' ? { payload: { enabled: false } } : {}) });
      expect({ method, body: response.json() }).toMatchObject({ method, body: { statusCode: 400, code: 'VALIDATION_FAILED', message: expect.stringContaining('id') as unknown } });
    }
  });
});

describe('health and metrics', () => {
  it('reports liveness, per-dependency readiness and Prometheus metrics', async () => {
    expect((await get('/healthz', null)).json()).toEqual({ status: 'ok' });
    const ready = (await get('/readyz', null)).json<{ ready: boolean; dependencies: Record<string, { ok: boolean; adapter: string }> }>();
    expect(ready.ready).toBe(true);
    expect(Object.keys(ready.dependencies).sort()).toEqual(['bus', 'cache', 'configStore', 'jobs', 'store']);
    expect(ready.dependencies['bus']?.adapter).toBe('embedded');
    const metrics = await get('/metrics', null);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('sluice_http_requests_total');
  });

  it('answers unknown routes with NOT_FOUND in the error shape', async () => {
    expect((await get('/nowhere', null)).json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found' });
  });
});
