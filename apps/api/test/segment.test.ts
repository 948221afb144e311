// The Segment-compatible HTTP API in process (inject): auth by write key, bodies (any type,
// gzip, deflate, limits), faithful mapping, per-event outcome with dead letters, identity.
// The real SDKs run against a live Sluice in apps/cli/test/sdk-segment.integration.test.ts.
import { gzipSync, deflateSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { anonymousProfileId, decodeEventsMessage, userProfileId } from '@sluice/core';
import { publishedDeadLetters, publishedEvents } from '@sluice/testkit/published';
import { ADMIN_TOKEN, startHarness, trackBody, type Harness } from './harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ DEMO_SOURCE: 'false' });
  await h.adapters.configStore.createSource({ id: 'app', name: 'App', allowedOrigins: ['https://shop.example'] });
  await h.adapters.configStore.createSource({ id: 'web', name: 'Web', allowedOrigins: ['*'] });
  await h.adapters.configStore.createSource({ id: 'off', name: 'Off', enabled: false, allowedOrigins: [] });
});
afterEach(() => h.close());

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  h.api.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', authorization: basic('app'), ...headers }, payload: Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload) });

/** The tracked events the worker decodes from what the API published. */
const tracked = (count: number) => publishedEvents(h.adapters.bus, count);

const deadLetters = (count: number) => publishedDeadLetters(h.adapters.bus, count);

const NAME = 'Coupon Applied (10% off) – Sommer/2025';
const track = (messageId: string, extra: Record<string, unknown> = {}) => ({ type: 'track', messageId, event: NAME, anonymousId: 'anon-1', properties: { coupon: 'SOMMER10', '€': 1 }, timestamp: '2026-06-01T10:00:00.000Z', ...extra });

describe('/v1/batch', () => {
  it('stores each event under its messageId, the name, ids, traits and integrations as sent', async () => {
    const batch = [
      track('m-1', { context: { ip: '203.0.113.9', userAgent: 'UA', page: { url: 'https://shop.example/' } }, integrations: { All: false } }),
      { type: 'page', messageId: 'm 2 / not an id', name: 'Home', anonymousId: 'anon-1', properties: { path: '/' }, timestamp: '2026-06-01T10:00:01Z' },
      { type: 'identify', messageId: 'm-3', userId: 'ana@example.com', anonymousId: 'anon-1', traits: { plan: 'pro' } },
    ];
    const response = await post('/v1/batch', { batch, writeKey: 'ignored-when-basic', sentAt: '2026-06-01T10:00:02Z' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ success: true, accepted: 3 });
    const events = await tracked(3);
    const byId = new Map(events.map((event) => [event.id, event]));
    expect(byId.get('m-1')).toMatchObject({ type: 'track', sourceId: 'app', time: '2026-06-01T10:00:00.000Z', properties: { coupon: 'SOMMER10', '€': 1 }, context: { ip: '203.0.113.9', userAgent: 'UA', page: { url: 'https://shop.example/' }, segment: { event: NAME, messageId: 'm-1', anonymousId: 'anon-1', integrations: { All: false } } } });
    // A messageId that is not a Sluice id: a derived id, the same for every resend.
    const page = events.find((event) => event.type === 'page');
    expect(page?.id).toMatch(/^m-[0-9a-f]{64}$/);
    expect(page?.context).toMatchObject({ segment: { messageId: 'm 2 / not an id', name: 'Home' } });
    expect(byId.get('m-3')).toMatchObject({ type: 'identify', profileId: userProfileId('ana@example.com'), context: { segment: { userId: 'ana@example.com', traits: { plan: 'pro' } } } });
    expect(JSON.stringify(events)).not.toContain('ignored-when-basic');
  });

  it('authenticates by write key: Basic, or writeKey in the body; unknown 401, missing 401, disabled 403', async () => {
    const batch = [track('k-1')];
    expect((await post('/v1/batch', { batch, writeKey: 'app' }, { authorization: '' })).statusCode).toBe(200);
    expect((await post('/v1/batch', { batch }, { authorization: '' })).json()).toMatchObject({ statusCode: 401, code: 'WRITE_KEY_MISSING' });
    expect((await post('/v1/batch', { batch }, { authorization: basic('nope') })).json()).toMatchObject({ statusCode: 401, code: 'SOURCE_NOT_FOUND' });
    expect((await post('/v1/batch', { batch }, { authorization: basic('not a key!') })).json()).toMatchObject({ statusCode: 401, code: 'SOURCE_NOT_FOUND' });
    expect((await post('/v1/batch', { batch }, { authorization: basic('off') })).json()).toMatchObject({ statusCode: 403, code: 'SOURCE_DISABLED' });
  });

  it('reads JSON whatever the Content-Type, gzip and deflate included (as rudder-sdk-node sends it)', async () => {
    const body = JSON.stringify({ batch: [track('z-1'), track('z-2')] });
    const gzipped = await post('/v1/batch', gzipSync(body), { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' });
    expect(gzipped.statusCode).toBe(200);
    const deflated = await post('/v1/import', deflateSync(JSON.stringify({ batch: [track('z-3')] })), { 'content-type': 'text/plain', 'content-encoding': 'deflate' });
    expect(deflated.statusCode).toBe(200);
    const untyped = await h.api.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: basic('app') }, payload: JSON.stringify(track('z-4')) });
    expect(untyped.statusCode).toBe(200);
    expect((await tracked(4)).map((event) => event.id).sort()).toEqual(['z-1', 'z-2', 'z-3', 'z-4']);
    // /track still refuses encoded bodies.
    const trackGzip = await h.api.app.inject({ method: 'POST', url: '/track', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipSync(JSON.stringify(trackBody({ source: { id: 'web' } }))) });
    expect(trackGzip.json()).toMatchObject({ statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('refuses a gzip bomb, a 600 KB batch and a 40 KB single call with a coded 413, bad gzip 400, and keeps serving', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, ' '));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const before = process.memoryUsage().rss;
    const bombed = await post('/v1/batch', bomb, { 'content-encoding': 'gzip' });
    expect(bombed.json()).toMatchObject({ statusCode: 413, code: 'SEGMENT_BATCH_TOO_LARGE' });
    expect(process.memoryUsage().rss - before).toBeLessThan(32 * 1024 * 1024);
    const big = { batch: Array.from({ length: 20 }, (_, index) => track(`b-${String(index)}`, { properties: { blob: 'x'.repeat(30 * 1024) } })) };
    expect((await post('/v1/batch', big)).json()).toMatchObject({ statusCode: 413, code: 'SEGMENT_BATCH_TOO_LARGE' });
    expect((await post('/v1/track', track('big', { properties: { blob: 'x'.repeat(40 * 1024) } }))).json()).toMatchObject({ statusCode: 413, code: 'SEGMENT_BATCH_TOO_LARGE' });
    expect((await post('/v1/batch', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' })).json()).toMatchObject({ statusCode: 400, code: 'BODY_ENCODING_INVALID' });
    expect((await post('/v1/batch', 'x', { 'content-encoding': 'br' })).json()).toMatchObject({ statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect((await post('/v1/batch', '{"batch": [')).json()).toMatchObject({ statusCode: 400, code: 'INVALID_JSON' });
    expect((await post('/v1/batch', { batch: [track('after')] })).statusCode).toBe(200);
  });

  it('dead-letters each invalid event with its code and reason and stores its neighbours', async () => {
    const batch = [
      track('ok-1'),
      track('too-big', { properties: { blob: 'x'.repeat(40 * 1024) } }),
      track('bad-time', { timestamp: 'yesterday' }),
      { type: 'track', messageId: 'no-name', anonymousId: 'anon-1' },
      { type: 'track', messageId: 'no-id', event: 'X', userId: 'null', anonymousId: ' ' },
      'not an object',
      { type: 'launch', messageId: 'bad-type', anonymousId: 'a' },
      track('ok-2'),
    ];
    const response = await post('/v1/batch', { batch });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ accepted: number; deadLettered: { index: number; code: string }[] }>();
    expect(body.accepted).toBe(2);
    expect(body.deadLettered.map((letter) => [letter.index, letter.code])).toEqual([
      [1, 'SEGMENT_EVENT_TOO_LARGE'], [2, 'SEGMENT_EVENT_INVALID'], [3, 'SEGMENT_EVENT_INVALID'], [4, 'SEGMENT_EVENT_INVALID'], [5, 'SEGMENT_EVENT_INVALID'], [6, 'SEGMENT_EVENT_INVALID'],
    ]);
    expect((await tracked(2)).map((event) => event.id)).toEqual(['ok-1', 'ok-2']);
    const letters = await deadLetters(6);
    expect(letters.map((letter) => letter.code)).toEqual(body.deadLettered.map((letter) => letter.code));
    const badTime = letters.find((letter) => letter.reason.includes('timestamp'));
    expect(badTime).toMatchObject({ kind: 'message', origin: '/v1/batch', reason: expect.stringContaining('not an RFC 3339') });
    // A mapped event's dead letter is a message the worker can store once replayed.
    if (badTime?.kind !== 'message') throw new Error('expected a message dead letter');
    const replayed = decodeEventsMessage(Buffer.from(badTime.message.payload, 'base64'));
    expect(replayed).toMatchObject({ ok: true, events: [{ id: 'bad-time', context: { segment: { timestamp: 'yesterday' } } }] });
  });

  it('checks events against their event types as /track does, and dead-letters what a type or source refuses, `reject` too (never a 4xx)', async () => {
    await h.adapters.configStore.createEventType({ name: 'track', schema: { type: 'object', required: ['price'], properties: { price: { type: 'number' } } }, onInvalid: 'reject' });
    await h.adapters.configStore.createSource({ id: 'strict', name: 'Strict', allowUnknownEventTypes: false });
    const batch = [track('v-ok', { properties: { price: 3 } }), track('v-bad', { properties: { price: 'free' } }), { type: 'page', messageId: 'v-page', anonymousId: 'anon-1' }];
    const response = await post('/v1/batch', { batch });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ success: true, accepted: 2, deadLettered: [{ index: 1, messageId: 'v-bad', code: 'EVENT_INVALID', reason: expect.stringMatching(/^\/batch\/1\/properties\/price: .*\(schema of event type "track", version 1\)$/) }] });
    // A source that refuses unknown types: a page call has no type configured.
    const strict = await post('/v1/page', { messageId: 'v-strict', anonymousId: 'anon-1' }, { authorization: basic('strict') });
    expect(strict.statusCode).toBe(200);
    expect(strict.json()).toMatchObject({ accepted: 0, deadLettered: [{ index: 0, code: 'EVENT_TYPE_UNKNOWN', reason: '/type: event type "page" is not configured and source "strict" refuses unknown types' }] });
    expect((await tracked(2)).map((event) => event.id)).toEqual(['v-ok', 'v-page']);
    const letters = await deadLetters(2);
    expect(letters).toEqual([expect.objectContaining({ code: 'EVENT_INVALID', origin: '/v1/batch' }), expect.objectContaining({ code: 'EVENT_TYPE_UNKNOWN', origin: '/v1/page' })]);
    // Replayable once the schema is fixed: the event as it would have been stored.
    const bad = letters[0];
    if (bad?.kind !== 'message') throw new Error('expected a message dead letter');
    expect(decodeEventsMessage(Buffer.from(bad.message.payload, 'base64'))).toMatchObject({ ok: true, events: [{ id: 'v-bad', sourceId: 'app', properties: { price: 'free' } }] });
  });

  it('takes the time from timestamp, else originalTimestamp corrected by sentAt, else the receive time', async () => {
    const before = Date.now();
    const batch = [
      { type: 'track', messageId: 't-1', event: 'E', anonymousId: 'a', timestamp: '2026-01-01T00:00:00+02:00', originalTimestamp: '2000-01-01T00:00:00Z' },
      // The client's clock is an hour ahead: the event waited 10 s before it was sent.
      { type: 'track', messageId: 't-2', event: 'E', anonymousId: 'a', originalTimestamp: new Date(before + 3_600_000 - 10_000).toISOString() },
      { type: 'track', messageId: 't-3', event: 'E', anonymousId: 'a' },
    ];
    expect((await post('/v1/batch', { batch, sentAt: new Date(before + 3_600_000).toISOString() })).statusCode).toBe(200);
    const byId = new Map((await tracked(3)).map((event) => [event.id, event]));
    expect(byId.get('t-1')?.time).toBe('2025-12-31T22:00:00.000Z');
    const corrected = Date.parse(byId.get('t-2')?.time ?? '');
    expect(corrected).toBeGreaterThanOrEqual(before - 10_000);
    expect(corrected).toBeLessThan(Date.now() - 9_000);
    expect(byId.get('t-3')?.time).toBe(byId.get('t-3')?.receivedAt);
  });
});

describe('identity', () => {
  it('anonymous events share a profile; identify binds it to the user; alias merges; identified profiles never merge through identify', async () => {
    const anonymous = anonymousProfileId('app', 'anon-A');
    const ana = userProfileId('ana');
    const send = async (batch: unknown[]) => expect((await post('/v1/batch', { batch })).statusCode).toBe(200);
    await send([
      { type: 'page', messageId: 'i-1', anonymousId: 'anon-A' },
      { type: 'identify', messageId: 'i-2', anonymousId: 'anon-A', userId: 'ana' },
      // After the identify, the anonymous id resolves to Ana's profile, in the same batch.
      { type: 'track', messageId: 'i-3', event: 'Later', anonymousId: 'anon-A' },
    ]);
    await send([{ type: 'track', messageId: 'i-4', event: 'Signed in elsewhere', userId: 'ana' }]);
    // Another user identifies on the same browser: the anonymous profile is Ana's already, no merge.
    await send([{ type: 'identify', messageId: 'i-5', anonymousId: 'anon-A', userId: 'bob' }]);
    // Blank ids never merge: the event goes to the anonymous profile of the source.
    await send([{ type: 'identify', messageId: 'i-6', anonymousId: 'anon-C', userId: 'undefined' }]);
    // alias: an old user id merged into a new one.
    await send([{ type: 'track', messageId: 'i-7', event: 'Old', userId: 'old-id' }, { type: 'alias', messageId: 'i-8', previousId: 'old-id', userId: 'ana' }, { type: 'track', messageId: 'i-9', event: 'Old again', userId: 'old-id' }]);
    const byId = new Map((await tracked(9)).map((event) => [event.id, event.profileId]));
    expect(byId.get('i-1')).toBe(anonymous);
    expect([byId.get('i-2'), byId.get('i-3'), byId.get('i-4'), byId.get('i-8'), byId.get('i-9')]).toEqual([ana, ana, ana, ana, ana]);
    expect(byId.get('i-5')).toBe(userProfileId('bob'));
    expect(byId.get('i-6')).toBe(anonymousProfileId('app', 'anon-C'));
    expect(byId.get('i-7')).toBe(userProfileId('old-id'));
    expect(await h.adapters.store.getMerge(anonymous)).toMatchObject({ into: ana });
    expect(await h.adapters.store.getMerge(userProfileId('bob'))).toBeUndefined();
    const metrics = await h.metrics.registry.getSingleMetricAsString('sluice_segment_merges_refused_total');
    expect(metrics).toContain('reason="already-merged"} 1');
  });

  it('the read API lists a profile\'s anonymous ids and user ids, those of profiles merged into it (through a chain) too, blank ones never', async () => {
    const ana = userProfileId('ana');
    const send = async (batch: unknown[], key = 'app') => expect((await post('/v1/batch', { batch }, { authorization: basic(key) })).statusCode).toBe(200);
    await send([{ type: 'page', messageId: 'r-1', anonymousId: 'anon-A' }, { type: 'identify', messageId: 'r-2', anonymousId: 'anon-A', userId: 'ana' }]);
    await send([{ type: 'page', messageId: 'r-3', anonymousId: 'anon-C', userId: 'undefined' }]);
    await send([{ type: 'page', messageId: 'r-4', anonymousId: 'anon-W' }], 'web');
    // The events and their profiles, as the worker would store them (no worker runs in process).
    const events = await tracked(4);
    const profiles = events.map((event) => ({ id: event.profileId, firstSeen: event.receivedAt, lastSeen: event.receivedAt, lastSessionId: event.sessionId, lastSourceId: event.sourceId, version: 1 }));
    await h.adapters.store.writeBatch({ events, profiles, sessions: [] });
    const read = async (id: string) => (await h.api.app.inject({ method: 'GET', url: `/v1/profiles/${id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json<Record<string, unknown>>();
    expect(await read(ana)).toMatchObject({ id: ana, anonymousIds: ['anon-A'], userIds: ['ana'] });
    // A chain: the web visitor's profile into anon-C's, anon-C's into Ana's; the blank user id "undefined" is never listed.
    const merge = (from: string, into: string) => h.api.app.inject({ method: 'POST', url: `/v1/profiles/${from}/merge`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { into } });
    expect((await merge(anonymousProfileId('web', 'anon-W'), anonymousProfileId('app', 'anon-C'))).statusCode).toBe(200);
    expect((await merge(anonymousProfileId('app', 'anon-C'), ana)).statusCode).toBe(200);
    expect(await read(ana)).toMatchObject({ anonymousIds: ['anon-A', 'anon-C', 'anon-W'], userIds: ['ana'] });
    expect(await read(anonymousProfileId('app', 'anon-C'))).toMatchObject({ mergedInto: ana, anonymousIds: ['anon-C', 'anon-W'], userIds: [] });
    expect(await read(userProfileId('nobody'))).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
  });

  it('an anonymous id is per source, a user id tenant-wide', async () => {
    await post('/v1/track', track('s-1', { anonymousId: 'same', userId: undefined }));
    await post('/v1/track', track('s-2', { anonymousId: 'same', userId: undefined }), { authorization: basic('web') });
    await post('/v1/track', track('s-3', { anonymousId: undefined, userId: 'u' }));
    await post('/v1/track', track('s-4', { anonymousId: undefined, userId: 'u' }), { authorization: basic('web') });
    const byId = new Map((await tracked(4)).map((event) => [event.id, event.profileId]));
    expect(byId.get('s-1')).not.toBe(byId.get('s-2'));
    expect(byId.get('s-3')).toBe(byId.get('s-4'));
  });
});

describe('beacons and pixels', () => {
  it('takes a beacon batch with ?writeKey= and a pixel as a 1×1 GIF', async () => {
    const beacon = await h.api.app.inject({ method: 'POST', url: '/beacon/v1/batch?writeKey=web', headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://any.example' }, payload: JSON.stringify({ batch: [track('beacon-1')] }) });
    expect(beacon.statusCode).toBe(200);
    expect(beacon.headers['access-control-allow-origin']).toBe('https://any.example');
    const pixel = await h.api.app.inject({ method: 'GET', url: `/pixel/v1/track?writeKey=web&anonymousId=px&event=${encodeURIComponent(NAME)}&messageId=pixel-1&properties.plan=pro&properties.price=9&context.page.url=https%3A%2F%2Fmail.example%2F` });
    expect(pixel.statusCode).toBe(200);
    expect(pixel.headers['content-type']).toBe('image/gif');
    expect(pixel.rawPayload.subarray(0, 6).toString()).toBe('GIF89a');
    const page = await h.api.app.inject({ method: 'GET', url: '/pixel/v1/page?writeKey=web&anonymousId=px&name=Home&messageId=pixel-2' });
    expect(page.statusCode).toBe(200);
    const byId = new Map((await tracked(3)).map((event) => [event.id, event]));
    expect(byId.get('pixel-1')).toMatchObject({ type: 'track', sourceId: 'web', properties: { plan: 'pro', price: '9' }, context: { page: { url: 'https://mail.example/' }, segment: { event: NAME, anonymousId: 'px' } } });
    expect(byId.get('pixel-2')).toMatchObject({ type: 'page', context: { segment: { name: 'Home' } } });
    expect((await h.api.app.inject({ method: 'GET', url: '/pixel/v1/track?anonymousId=px&event=x' })).json()).toMatchObject({ code: 'WRITE_KEY_MISSING' });
  });
});
