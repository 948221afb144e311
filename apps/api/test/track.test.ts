import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { receiveAll } from '@sluice/bus/conformance';
import { decodeEventsMessage, type EventsMessage, type TrackedEvent } from '@sluice/core';
import { startHarness, trackBody, type Harness } from './harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ TRACK_MAX_BODY_SIZE: String(256 * 1024), TRACK_MAX_PROPERTIES_SIZE: '1024' });
  await h.adapters.configStore.createSource({ id: 'web', name: 'Web', allowedOrigins: ['https://shop.example'] });
  await h.adapters.configStore.createSource({ id: 'off', name: 'Off', enabled: false });
});
afterEach(() => h.close());

/** Posts until the answer is not a 503 (a client retrying), at most 50 times. */
async function postUntilAccepted(payload: unknown): Promise<Awaited<ReturnType<typeof post>>> {
  for (let attempt = 0; ; attempt += 1) {
    const response = await post(payload);
    if (response.statusCode !== 503 || attempt >= 50) return response;
  }
}

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  h.api.app.inject({ method: 'POST', url: '/track', headers: { 'content-type': 'application/json', ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

/** The bus messages, as published and as the worker reads them. */
async function busMessages(count: number): Promise<(EventsMessage & { readonly tracked: TrackedEvent[] })[]> {
  const consumer = await h.adapters.bus.consumer('events', 'test', { maxUnacked: 1000, maxRedeliver: 3, nackDelayMs: 10 });
  const received = await receiveAll(consumer, count, 2000);
  await consumer.close();
  return received.map((message) => {
    const published = JSON.parse(message.payload.toString()) as EventsMessage;
    const decoded = decodeEventsMessage(message.payload);
    return { ...published, tracked: decoded.ok ? decoded.events : [] };
  });
}

describe('POST /track', () => {
  it('answers 200 with profile, session and event ids once the events are on the bus', async () => {
    const response = await post(trackBody({ events: [{ id: 'client-id-1', type: 'a' }, { type: 'b', time: '2026-01-02T03:04:05Z' }] }), { 'user-agent': 'jest-agent' });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ profile: { id: string }; session: { id: string }; events: string[] }>();
    expect(body.session.id).toBe('session-1');
    expect(body.events[0]).toBe('client-id-1');
    expect(body.events[1]).toMatch(/^[0-9a-f-]{36}$/);
    const [message] = await busMessages(1);
    expect(message?.tracked.map((event) => event.id)).toEqual(body.events);
    // The body travels as the client sent it, beside the API's decisions.
    expect(message).toMatchObject({ v: 1, kind: 'received', request: { sessionId: 'session-1', profileId: body.profile.id, ids: body.events }, payload: { events: [{ id: 'client-id-1', type: 'a' }, { type: 'b' }] } });
    const second = message?.tracked[1];
    expect(second).toMatchObject({ type: 'b', sourceId: 'demo', sessionId: 'session-1', profileId: body.profile.id, time: '2026-01-02T03:04:05.000Z' });
    expect(second?.metadata.userAgent).toBe('jest-agent');
    expect(Date.parse(second?.receivedAt ?? '')).toBeGreaterThan(Date.now() - 5000);
  });

  it('keeps a client-supplied profile id and starts a session when none is given', async () => {
    const response = await post(trackBody({ profile: { id: 'known-profile' }, session: undefined }));
    expect(response.statusCode).toBe(200);
    const body = response.json<{ profile: { id: string }; session: { id: string } }>();
    expect(body.profile.id).toBe('known-profile');
    expect(body.session.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives concurrent first requests of one session the same profile (Tracardi #652)', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(trackBody({ session: { id: 'race-session' } }))));
    const profiles = new Set(responses.map((response) => response.json<{ profile: { id: string } }>().profile.id));
    expect(responses.every((response) => response.statusCode === 200)).toBe(true);
    expect(profiles.size).toBe(1);
  });

  it('accepts text/plain bodies holding JSON (navigator.sendBeacon), and bodies with a byte order mark or odd spacing', async () => {
    const beacon = await post(JSON.stringify(trackBody()), { 'content-type': 'text/plain;charset=UTF-8' });
    expect(beacon.statusCode).toBe(200);
    const marked = await post(`\uFEFF ${JSON.stringify(trackBody({ events: [{ type: 'marked' }] }), null, 2)}\n\t`);
    expect(marked.statusCode).toBe(200);
    // The body goes on the bus as received: every message must still decode into its events.
    const messages = await busMessages(2);
    expect(messages.map((message) => message.tracked.length)).toEqual([1, 1]);
    expect(messages[1]?.tracked[0]).toMatchObject({ type: 'marked', id: marked.json<{ events: string[] }>().events[0] });
  });

  const rejections: [string, () => ReturnType<typeof post>, number, string][] = [
    ['malformed JSON', () => post('{"source": {'), 400, 'INVALID_JSON'],
    ['an empty body', () => post(''), 400, 'INVALID_JSON'],
    ['a wrong type', () => post(trackBody({ events: [{ type: 42 }] })), 400, 'VALIDATION_FAILED'],
    ['no events', () => post(trackBody({ events: [] })), 400, 'VALIDATION_FAILED'],
    ['a missing source', () => post({ events: [{ type: 'a' }] }), 400, 'VALIDATION_FAILED'],
    ['a bad event time', () => post(trackBody({ events: [{ type: 'a', time: 'yesterday' }] })), 400, 'VALIDATION_FAILED'],
    ['an oversize body', () => post(trackBody({ events: [{ type: 'a', properties: { blob: 'x'.repeat(300 * 1024) } }] })), 413, 'BODY_TOO_LARGE'],
    ['10,000 events in one request', () => post(trackBody({ events: Array.from({ length: 10_000 }, () => ({ type: 'a' })) })), 413, 'TOO_MANY_EVENTS'],
    ['oversize properties', () => post(trackBody({ events: [{ type: 'a', properties: { blob: 'x'.repeat(2000) } }] })), 413, 'PROPERTIES_TOO_LARGE'],
    ['an unknown source', () => post(trackBody({ source: { id: 'nope' } })), 401, 'SOURCE_NOT_FOUND'],
    ['a disabled source', () => post(trackBody({ source: { id: 'off' } })), 403, 'SOURCE_DISABLED'],
    ['a disallowed origin', () => post(trackBody({ source: { id: 'web' } }), { origin: 'https://evil.example' }), 403, 'ORIGIN_NOT_ALLOWED'],
    ['an unsupported content type', () => post('<xml/>', { 'content-type': 'application/xml' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    // Nothing recursive may see these: the depth is measured on the text before parsing.
    ['properties 5,000 arrays deep (a 10 KB body)', () => post(`{"source":{"id":"demo"},"events":[{"type":"a","properties":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}]}`), 400, 'NESTING_TOO_DEEP'],
    ['an object 10,000 deep in a larger body', () => post(`{"source":{"id":"demo"},"events":[{"type":"a","properties":{"pad":"${'x'.repeat(100_000)}","x":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}}]}`), 400, 'NESTING_TOO_DEEP'],
    ['properties 33 levels deep', () => post(trackBody({ events: [{ type: 'a', properties: JSON.parse(`${'{"a":'.repeat(30)}1${'}'.repeat(30)}`) as object }] })), 400, 'NESTING_TOO_DEEP'],
    ['21,000 keys', () => post(trackBody({ events: [{ type: 'a', properties: Object.fromEntries(Array.from({ length: 21_000 }, (_, i) => [`k${i}`, 1])) }] })), 413, 'TOO_MANY_KEYS'],
    ['a leap second', () => post(trackBody({ events: [{ type: 'a', time: '2016-12-31T23:59:61Z' }] })), 400, 'VALIDATION_FAILED'],
    ['an hour-only offset', () => post(trackBody({ events: [{ type: 'a', time: '2026-01-01T00:00:00+00' }] })), 400, 'VALIDATION_FAILED'],
    ['a time after year 9999 in UTC', () => post(trackBody({ events: [{ type: 'a', time: '9999-12-31T23:00:00-02:00' }] })), 400, 'VALIDATION_FAILED'],
    ['two events with one id', () => post(trackBody({ events: [{ id: 'same', type: 'a' }, { id: 'other', type: 'a' }, { id: 'same', type: 'b' }] })), 400, 'DUPLICATE_EVENT_ID'],
    ['shared properties copied into 100 events', () => post(trackBody({ properties: { blob: 'x'.repeat(5000) }, events: Array.from({ length: 100 }, () => ({ type: 'a' })) })), 413, 'PROPERTIES_TOO_LARGE'],
  ];

  it.each(rejections)('rejects %s with a stable code and keeps serving', async (_name, send, status, code) => {
    const response = await send();
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ statusCode: status, code });
    expect((await post(trackBody())).statusCode).toBe(200);
  });

  it('stores a leap second and odd offsets as the instants they name', async () => {
    const response = await post(trackBody({ events: [{ type: 'a', time: '2016-12-31T23:59:60Z' }, { type: 'b', time: '2026-01-01T05:30:00.5+05:30' }] }));
    expect(response.statusCode).toBe(200);
    const [message] = await busMessages(1);
    expect(message?.tracked.map((event) => event.time)).toEqual(['2016-12-31T23:59:59.999Z', '2026-01-01T00:00:00.500Z']);
  });

  it('keeps only an IP address from X-Forwarded-For behind TRUST_PROXY, so every message it publishes decodes', async () => {
    await h.close();
    h = await startHarness({ TRUST_PROXY: 'true' });
    for (const forwarded of [`1.2.3.4${'x'.repeat(300)}`, '<script>', '2001:db8::1', '198.51.100.7']) expect((await post(trackBody(), { 'x-forwarded-for': forwarded })).statusCode).toBe(200);
    const messages = await busMessages(4);
    expect(messages.map((message) => message.tracked.length)).toEqual([1, 1, 1, 1]); // every one decodes
    expect(messages.map((message) => message.tracked[0]?.metadata.ip)).toEqual([undefined, undefined, '2001:db8::1', '198.51.100.7']);
  });

  it('names the path of a repeated event id', async () => {
    const response = await post(trackBody({ events: [{ id: 'same', type: 'a' }, { id: 'same', type: 'b' }] }));
    expect(response.json<{ details: { path: string }[] }>().details[0]?.path).toBe('/events/1/id');
  });

  it('names the path of the bad field', async () => {
    const response = await post(trackBody({ events: [{ type: 'ok' }, { type: 'a', tags: 'not-a-list' }] }));
    expect(response.json<{ details: { path: string }[] }>().details[0]?.path).toBe('/events/1/tags');
  });

  it('publishes nothing for a rejected request', async () => {
    await post(trackBody({ source: { id: 'nope' } }));
    expect(await busMessages(1)).toEqual([]);
  });
});

describe('CORS', () => {
  it('allows an origin listed on the source, with Vary: Origin', async () => {
    const response = await post(trackBody({ source: { id: 'web' } }), { origin: 'https://shop.example' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(response.headers['vary']).toBe('Origin');
  });

  it('answers a preflight for an origin some enabled source allows, and not for others', async () => {
    const allowed = await h.api.app.inject({ method: 'OPTIONS', url: '/track', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(allowed.headers['access-control-allow-methods']).toContain('POST');
    await h.adapters.configStore.deleteSource('demo');
    const refused = await h.api.app.inject({ method: 'OPTIONS', url: '/track', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });
});

/**
 * Restarts the harness with a 10 ms BUS_PUBLISH_TIMEOUT and a bus that acknowledges after
 * `delayMs` (200 ms at first): the publish times out, then lands anyway.
 */
async function restartWithSlowBus(): Promise<{ delayMs: number }> {
  await h.close();
  h = await startHarness({ BUS_PUBLISH_TIMEOUT: '10' });
  const bus = h.adapters.bus;
  const publish = bus.publish.bind(bus);
  const control = { delayMs: 200 };
  bus.publish = async (output, messages) => {
    await new Promise((resolve) => setTimeout(resolve, control.delayMs));
    return publish(output, messages);
  };
  return control;
}

describe('bus acknowledgement', () => {
  it('answers 503 BUS_UNAVAILABLE with Retry-After when the bus cannot take the events', async () => {
    await h.adapters.bus.close();
    const response = await post(trackBody());
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({ code: 'BUS_UNAVAILABLE' });
  });

  it('makes a 503 idempotent: the retry of the same body reuses the ids, profile, session and receive time, even when the first publish landed late', async () => {
    const bus = await restartWithSlowBus();
    const body = trackBody({ events: [{ type: 'a' }, { type: 'b' }] });
    const first = await post(body);
    expect(first.statusCode).toBe(503);
    expect(first.json()).toMatchObject({ code: 'BUS_UNAVAILABLE' });
    bus.delayMs = 0;
    const retry = await postUntilAccepted(body); // a 10 ms timeout can fire again under load: the client retries
    expect(retry.statusCode).toBe(200);
    const messages = await busMessages(2); // the late first attempt and the retry
    expect(messages).toHaveLength(2);
    expect(messages[0]?.tracked).toEqual(messages[1]?.tracked.map((event, index) => ({ ...event, metadata: messages[0]?.tracked[index]?.metadata })));
    expect(messages[1]?.tracked.map((event) => event.id)).toEqual(retry.json<{ events: string[] }>().events);
    // Another body, and the same body again after the retry's 200, are new requests with new ids.
    const other = await postUntilAccepted(trackBody({ events: [{ type: 'a' }, { type: 'c' }] }));
    const again = await postUntilAccepted(body);
    expect(other.json<{ events: string[] }>().events).not.toContain(retry.json<{ events: string[] }>().events[0]);
    expect(again.json<{ events: string[] }>().events).not.toContain(retry.json<{ events: string[] }>().events[0]);
  });

  it('never hands one visitor\'s decisions to another: an anonymous body (no session, no profile) is not remembered, and the same body from another source is another request', async () => {
    const bus = await restartWithSlowBus();
    await h.adapters.configStore.createSource({ id: 'shop', name: 'Shop' });
    const anonymous = { source: { id: 'demo' }, events: [{ type: 'page-view' }] };
    expect((await post(anonymous)).statusCode).toBe(503);
    const named = trackBody({ events: [{ type: 'page-view' }] });
    expect((await post(named)).statusCode).toBe(503);
    bus.delayMs = 0;
    const first = await postUntilAccepted(anonymous);
    const second = await postUntilAccepted(anonymous);
    expect(first.json<{ profile: { id: string } }>().profile.id).not.toBe(second.json<{ profile: { id: string } }>().profile.id);
    const fromShop = await postUntilAccepted({ ...named, source: { id: 'shop' } });
    const retried = await postUntilAccepted(named);
    expect(fromShop.json<{ events: string[] }>().events).not.toEqual(retried.json<{ events: string[] }>().events);
    // A session belongs to its source: shop's session-1 is not demo's.
    expect(fromShop.json<{ profile: { id: string } }>().profile.id).not.toBe(retried.json<{ profile: { id: string } }>().profile.id);
  });

  it('answers 503 SHUTTING_DOWN and fails readiness while draining', async () => {
    h.api.startDraining();
    expect((await post(trackBody())).json()).toMatchObject({ code: 'SHUTTING_DOWN' });
    expect((await h.api.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
  });
});
