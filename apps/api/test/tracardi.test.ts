// What Tracardi's browser tracker (Tracardi/tracardi-js) sends, and the CORS it needs: the
// time object, top-level `device` and `options`, event `options`, the `X-Timestamp` header,
// credentialed preflights and readable errors. The browser itself runs in
// apps/cli/test/browser-tracardi.integration.test.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { publishedEvents } from '@sluice/testkit/published';
import { startHarness, type Harness } from './harness.ts';

const SHOP = 'https://shop.example';
const EVIL = 'https://evil.example';

let h: Harness;
beforeEach(async () => {
  // No DEMO_SOURCE: its `*` would allow every origin.
  h = await startHarness({ DEMO_SOURCE: 'false', TRACK_MAX_BODY_SIZE: String(64 * 1024) });
  await h.adapters.configStore.createSource({ id: 'web', name: 'Web', allowedOrigins: [SHOP] });
  await h.adapters.configStore.createSource({ id: 'other', name: 'Other', allowedOrigins: ['https://other.example'] });
  await h.adapters.configStore.createSource({ id: 'off', name: 'Off', enabled: false, allowedOrigins: [SHOP] });
});
afterEach(() => h.close());

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  h.api.app.inject({ method: 'POST', url: '/track', headers: { 'content-type': 'application/json', ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

/** The tracked events the worker decodes from what the API published. */
const tracked = (count: number) => publishedEvents(h.adapters.bus, count);

/** A body as tracardi-js 1.0 builds it (src/domain/event.js, src/tracardi.js): first page load, no profile yet. */
const trackerBody = (events: unknown[], overrides: Record<string, unknown> = {}) => ({
  source: { id: 'web' },
  context: { time: { local: '1/12/2026, 10:00:00' }, browser: { local: { browser: { name: 'Chrome' } } } },
  profile: null,
  device: { id: '5f0c2b1e-7d1a-4b8e-9a51-0d2f6f3c9e11' },
  session: { id: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b' },
  options: {},
  events,
  ...overrides,
});
const pageView = { time: { create: '2026-12-01T10:00:00.123Z' }, type: 'page-view', properties: { title: 'Home' }, context: { page: { url: 'https://shop.example/' } } };

describe("Tracardi's payload", () => {
  it('stores what the tracker sends: the time object, device, options and the X-Timestamp header', async () => {
    const fired = { time: { create: '2026-12-01T10:00:05.000Z' }, type: 'purchase', properties: { sku: 'X' }, options: { fire: true, asBeacon: false } };
    const response = await post(trackerBody([pageView, fired], { options: { consent: 'granted' } }), { origin: SHOP, 'x-timestamp': '1764583200123' });
    expect(response.statusCode).toBe(200);
    const [page, purchase] = await tracked(2);
    expect(page).toMatchObject({ type: 'page-view', time: '2026-12-01T10:00:00.123Z', times: { create: '2026-12-01T10:00:00.123Z' }, device: { id: '5f0c2b1e-7d1a-4b8e-9a51-0d2f6f3c9e11' }, options: { consent: 'granted' } });
    expect(page?.metadata).toEqual(expect.objectContaining({ origin: SHOP, clientTimestamp: '1764583200123' }));
    // Payload-level options go under the event's own, as context and properties do.
    expect(purchase).toMatchObject({ type: 'purchase', time: '2026-12-01T10:00:05.000Z', options: { consent: 'granted', fire: true, asBeacon: false }, device: { id: '5f0c2b1e-7d1a-4b8e-9a51-0d2f6f3c9e11' } });
  });

  it('takes the event time from `create`, else `insert`, else the receive time, and keeps every time sent', async () => {
    const events = [
      { type: 'all-three', time: { insert: '2026-12-01T10:00:01Z', create: '2026-12-01T09:00:00+00:00', update: '2026-12-02T00:00:00.5Z' } },
      { type: 'insert-only', time: { insert: '2026-12-01T11:00:00+01:00' } },
      { type: 'update-only', time: { update: '2026-12-03T00:00:00Z' } },
      { type: 'empty', time: {} },
      { type: 'string', time: '2026-12-01T12:00:00Z' },
      { type: 'none' },
    ];
    expect((await post(trackerBody(events))).statusCode).toBe(200);
    const stored = await tracked(6);
    const receivedAt = stored[0]!.receivedAt;
    expect(stored.map(({ type, time, times }) => ({ type, time, times }))).toEqual([
      { type: 'all-three', time: '2026-12-01T09:00:00.000Z', times: { create: '2026-12-01T09:00:00.000Z', insert: '2026-12-01T10:00:01.000Z', update: '2026-12-02T00:00:00.500Z' } },
      { type: 'insert-only', time: '2026-12-01T10:00:00.000Z', times: { insert: '2026-12-01T10:00:00.000Z' } },
      { type: 'update-only', time: receivedAt, times: { update: '2026-12-03T00:00:00.000Z' } },
      { type: 'empty', time: receivedAt, times: {} },
      { type: 'string', time: '2026-12-01T12:00:00.000Z', times: undefined },
      { type: 'none', time: receivedAt, times: undefined },
    ]);
    expect(['times' in stored[4]!, 'times' in stored[5]!]).toEqual([false, false]);
    // Events of clients that send none of Tracardi's fields keep their shape.
    expect((await post({ source: { id: 'web' }, events: [{ type: 'plain', time: '2026-12-01T12:00:00Z' }] })).statusCode).toBe(200);
    const plain = (await tracked(7)).find((event) => event.type === 'plain');
    expect(Object.keys(plain!).sort()).toEqual(['context', 'id', 'metadata', 'profileId', 'properties', 'receivedAt', 'sessionId', 'sourceId', 'tags', 'time', 'type']);
  });

  it('refuses a time object it cannot store, naming the field', async () => {
    const cases: [unknown, string, string][] = [
      [{ create: '2026-12-01 10:00:00' }, '/events/0/time/create', 'must match format "sluice-time"'],
      [{ create: 1764583200000 }, '/events/0/time/create', 'must be string'],
      [{ created: '2026-12-01T10:00:00Z' }, '/events/0/time', 'must NOT have additional property "created"'],
      [1764583200000, '/events/0/time', 'must be string,object'],
      ['2026-12-01T10:00:00', '/events/0/time', 'must match format "sluice-time"'],
    ];
    for (const [time, path, message] of cases) {
      const response = await post(trackerBody([{ type: 'page-view', time }]));
      expect([time, response.statusCode, response.json()]).toEqual([time, 400, expect.objectContaining({ code: 'VALIDATION_FAILED', message: `${path}: ${message}` })]);
    }
  });

  it('refuses an X-Timestamp longer than 64 characters', async () => {
    const response = await post(trackerBody([pageView]), { 'x-timestamp': '1'.repeat(65) });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'headers/x-timestamp' }] });
  });

  it('counts payload-level options and device, copied into every event, against the expansion limit', async () => {
    const big = { blob: 'x'.repeat(20 * 1024) };
    const events = Array.from({ length: 5 }, () => ({ type: 'page-view' }));
    expect((await post(trackerBody(events, { device: { id: 'd', ...big } }))).json()).toMatchObject({ code: 'PROPERTIES_TOO_LARGE' });
    expect((await post(trackerBody(events, { options: big }))).json()).toMatchObject({ code: 'PROPERTIES_TOO_LARGE' });
  });
});

describe('CORS for credentialed requests', () => {
  const preflight = (origin: string, requestHeaders?: string) =>
    h.api.app.inject({ method: 'OPTIONS', url: '/track', headers: { origin, 'access-control-request-method': 'POST', ...(requestHeaders === undefined ? {} : { 'access-control-request-headers': requestHeaders }) } });

  it('answers the preflight of an allowed origin with credentials, the methods and the headers asked for', async () => {
    const response = await preflight(SHOP, 'content-type,x-timestamp');
    expect(response.statusCode).toBe(204);
    expect(response.headers).toMatchObject({
      'access-control-allow-origin': SHOP,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type,x-timestamp',
      'access-control-max-age': '600',
    });
    expect(String(response.headers['vary'])).toContain('Origin');
  });

  it('answers no CORS header to the preflight of an origin no enabled source allows', async () => {
    for (const origin of [EVIL, 'null']) {
      const response = await preflight(origin, 'content-type');
      expect(response.statusCode).toBe(204);
      expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    }
  });

  it('marks the 200 readable by the allowed origin, with credentials, Vary: Origin and Retry-After exposed', async () => {
    const response = await post(trackerBody([pageView]), { origin: SHOP });
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'access-control-allow-origin': SHOP, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'Retry-After', vary: 'Origin' });
  });

  it('marks every error readable by an allowed origin: 400, 401, 403, 413, 415, 503', async () => {
    const answers = {
      invalidJson: await post('{"source":', { origin: SHOP }),
      badTime: await post(trackerBody([{ type: 'page-view', time: 1 }]), { origin: SHOP }),
      unknownSource: await post(trackerBody([pageView], { source: { id: 'nope' } }), { origin: SHOP }),
      disabledSource: await post(trackerBody([pageView], { source: { id: 'off' } }), { origin: SHOP }),
      tooLarge: await post(trackerBody([{ type: 'page-view', properties: { blob: 'x'.repeat(70 * 1024) } }]), { origin: SHOP }),
      compressed: await post(trackerBody([pageView]), { origin: SHOP, 'content-encoding': 'gzip' }),
      longTimestamp: await post(trackerBody([pageView]), { origin: SHOP, 'x-timestamp': 'x'.repeat(100) }),
    };
    await h.adapters.bus.close();
    const busDown = await post(trackerBody([pageView]), { origin: SHOP });
    const statuses = Object.fromEntries(Object.entries({ ...answers, busDown }).map(([name, response]) => [name, [response.statusCode, response.headers['access-control-allow-origin'], response.headers['access-control-allow-credentials']]]));
    expect(statuses).toEqual({
      invalidJson: [400, SHOP, 'true'],
      badTime: [400, SHOP, 'true'],
      unknownSource: [401, SHOP, 'true'],
      disabledSource: [403, SHOP, 'true'],
      tooLarge: [413, SHOP, 'true'],
      compressed: [415, SHOP, 'true'],
      longTimestamp: [400, SHOP, 'true'],
      busDown: [503, SHOP, 'true'],
    });
    expect(busDown.headers['retry-after']).toBe('1');
  });

  it('marks 503 SHUTTING_DOWN readable too', async () => {
    h.api.startDraining();
    const response = await post(trackerBody([pageView]), { origin: SHOP });
    expect([response.statusCode, response.headers['access-control-allow-origin']]).toEqual([503, SHOP]);
  });

  it('never marks an answer readable by an origin the named source does not allow, errors included', async () => {
    const answers = [
      // Allowed by source "other" only, or by none.
      await post(trackerBody([pageView]), { origin: 'https://other.example' }),
      await post(trackerBody([pageView]), { origin: EVIL }),
      await post(trackerBody([{ type: 'page-view', time: 1 }]), { origin: 'https://other.example' }),
      // A disabled source's own list decides, not the others'.
      await post(trackerBody([pageView], { source: { id: 'off' } }), { origin: 'https://other.example' }),
      // No source readable: an origin that no enabled source allows.
      await post('{"source":', { origin: EVIL }),
    ];
    expect(answers.map((response) => [response.statusCode, response.headers['access-control-allow-origin'], response.headers['access-control-allow-credentials']])).toEqual([
      [403, undefined, undefined],
      [403, undefined, undefined],
      [400, undefined, undefined],
      [403, undefined, undefined],
      [400, undefined, undefined],
    ]);
  });

  it('takes sendBeacon bodies: text/plain, and a JSON Blob (application/json), both readable by the allowed origin', async () => {
    for (const contentType of ['text/plain;charset=UTF-8', 'application/json']) {
      const response = await post(trackerBody([{ ...pageView, type: 'beacon', options: { asBeacon: true } }]), { origin: SHOP, 'content-type': contentType });
      expect([contentType, response.statusCode, response.headers['access-control-allow-origin'], response.headers['access-control-allow-credentials']]).toEqual([contentType, 200, SHOP, 'true']);
    }
    const stored = await tracked(2);
    expect(stored.map((event) => [event.type, event.options])).toEqual([
      ['beacon', { asBeacon: true }],
      ['beacon', { asBeacon: true }],
    ]);
  });
});
