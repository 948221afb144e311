// Event types on the tracking path (embedded adapters, SOURCE_CACHE_TTL=0): the admin API,
// schema validation with both policies, unknown types per source, schema changes.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { receiveAll } from '@sluice/bus/conformance';
import { decodeDeadLetter, decodeEventsMessage } from '@sluice/core';
import { ADMIN_TOKEN, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await h.adapters.configStore.createSource({ id: 'web', name: 'Web' });
  await h.adapters.configStore.createSource({ id: 'strict', name: 'Strict', allowUnknownEventTypes: false });
});
afterEach(() => h.close());

const admin = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
  h.api.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }, ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) });

const track = (source: string, events: unknown[]) =>
  h.api.app.inject({ method: 'POST', url: '/track', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ source: { id: source }, session: { id: 's1' }, events }) });

const priceSchema = { type: 'object', required: ['price'], properties: { price: { type: 'number', minimum: 0 }, item: { type: 'object', properties: { sku: { type: 'string' } } } } };

async function published(subscription: string, output: 'events' | 'dead-letters', count: number) {
  const consumer = await h.adapters.bus.consumer(output, subscription, { maxUnacked: 100, maxRedeliver: 3, nackDelayMs: 10 });
  const received = await receiveAll(consumer, count, 1500);
  await consumer.close();
  return received;
}

describe('event types admin API', () => {
  it('creates, lists, shows, updates (raising the version) and deletes event types', async () => {
    const created = await admin('POST', '/v1/event-types', { name: 'purchase', schema: priceSchema, onInvalid: 'dead-letter' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name: 'purchase', schema: priceSchema, enabled: true, onInvalid: 'dead-letter', version: 1 });
    expect((await admin('POST', '/v1/event-types', { name: 'purchase' })).json()).toMatchObject({ code: 'CONFLICT', statusCode: 409 });
    expect((await admin('GET', '/v1/event-types')).json<{ eventTypes: unknown[] }>().eventTypes).toHaveLength(1);
    expect((await admin('PATCH', '/v1/event-types/purchase', { enabled: false })).json()).toMatchObject({ enabled: false, version: 2 });
    expect((await admin('GET', '/v1/event-types/purchase')).json()).toMatchObject({ version: 2 });
    expect((await admin('DELETE', '/v1/event-types/purchase')).statusCode).toBe(204);
    expect((await admin('GET', '/v1/event-types/purchase')).json()).toMatchObject({ code: 'NOT_FOUND', statusCode: 404 });
  });

  it('refuses a schema that does not compile, an unknown policy and unknown fields, with VALIDATION_FAILED', async () => {
    const bad = await admin('POST', '/v1/event-types', { name: 'x', schema: { type: 'objekt' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^\/schema: not a valid JSON Schema/) as unknown });
    expect((await admin('POST', '/v1/event-types', { name: 'x', onInvalid: 'drop' })).json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await admin('POST', '/v1/event-types', { name: 'x', colour: 'red' })).json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await admin('PATCH', '/v1/event-types/x', { enabled: true })).json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('takes a source\'s rate limit and unknown-type policy', async () => {
    const created = await admin('POST', '/v1/sources', { id: 'app', name: 'App', rateLimit: 20, allowUnknownEventTypes: false });
    expect(created.json()).toMatchObject({ rateLimit: 20, allowUnknownEventTypes: false });
    expect((await admin('PATCH', '/v1/sources/app', { rateLimit: null })).json()).toMatchObject({ rateLimit: null });
    expect((await admin('PATCH', '/v1/sources/app', { rateLimit: 0 })).json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('validation on /track', () => {
  it('accepts valid events of a type with a schema', async () => {
    await h.adapters.configStore.createEventType({ name: 'purchase', schema: priceSchema });
    const response = await track('web', [{ type: 'purchase', properties: { price: 9.5, item: { sku: 'A1' } } }, { type: 'page-view' }]);
    expect(response.statusCode).toBe(200);
    expect(response.json()).not.toHaveProperty('deadLettered');
  });

  it('rejects the whole request with 422 EVENT_INVALID naming the event index and the JSON pointer (policy reject)', async () => {
    await h.adapters.configStore.createEventType({ name: 'purchase', schema: priceSchema });
    const response = await track('web', [{ type: 'page-view' }, { type: 'purchase', properties: { price: 1, item: { sku: 7 } } }]);
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ code: 'EVENT_INVALID', statusCode: 422, details: [{ path: '/events/1/properties/item/sku', message: expect.stringMatching(/must be string/) as unknown }] });
    const missing = await track('web', [{ type: 'purchase', properties: {} }]);
    expect(missing.json()).toMatchObject({ code: 'EVENT_INVALID', details: [{ path: '/events/0/properties/price', message: expect.stringMatching(/^is required/) as unknown }] });
    // Nothing of a rejected request reaches the bus.
    expect(await published('t', 'events', 1)).toHaveLength(0);
    // The API keeps serving.
    expect((await track('web', [{ type: 'purchase', properties: { price: 2 } }])).statusCode).toBe(200);
  });

  it('with policy dead-letter: answers 200, publishes the valid events and dead-letters the invalid one with its code and pointer, replayable as is', async () => {
    await h.adapters.configStore.createEventType({ name: 'purchase', schema: priceSchema, onInvalid: 'dead-letter' });
    const response = await track('web', [{ id: 'ok-1', type: 'purchase', properties: { price: 3 } }, { id: 'bad-1', type: 'purchase', properties: { price: -1 } }, { id: 'ok-2', type: 'page-view' }]);
    expect(response.statusCode).toBe(200);
    const body = response.json<{ events: string[]; deadLettered: unknown[] }>();
    expect(body.events).toEqual(['ok-1', 'bad-1', 'ok-2']);
    expect(body.deadLettered).toEqual([{ index: 1, id: 'bad-1', code: 'EVENT_INVALID', path: '/events/1/properties/price', message: 'must be >= 0' }]);
    const [events] = await published('t', 'events', 1);
    const decoded = decodeEventsMessage(events!.payload);
    expect(decoded.ok && decoded.events.map((event) => event.id)).toEqual(['ok-1', 'ok-2']);
    const [letter] = await published('t', 'dead-letters', 1);
    const dead = decodeDeadLetter(letter!.payload);
    expect(dead.ok && dead.letter).toMatchObject({ v: 1, kind: 'message', code: 'EVENT_INVALID', origin: '/track', reason: expect.stringContaining('/events/1/properties/price: must be >= 0') as unknown });
    // What `sluice dlq replay` republishes (the letter's message, byte for byte) is a message
    // the worker decodes into the one event, with its id and the request's decisions.
    const replayed = dead.ok && dead.letter.kind === 'message' ? decodeEventsMessage(Buffer.from(dead.letter.message.payload, 'base64')) : undefined;
    expect(replayed?.ok && replayed.events.map((event) => [event.id, event.sourceId, event.sessionId, event.properties])).toEqual([['bad-1', 'web', 's1', { price: -1 }]]);
  });

  it('a request whose only event is dead-lettered publishes no events message', async () => {
    await h.adapters.configStore.createEventType({ name: 'purchase', schema: priceSchema, onInvalid: 'dead-letter' });
    expect((await track('web', [{ type: 'purchase' }])).statusCode).toBe(200);
    expect(await published('t', 'events', 1)).toHaveLength(0);
    expect(await published('t', 'dead-letters', 1)).toHaveLength(1);
  });

  it('refuses unknown types with 422 EVENT_TYPE_UNKNOWN where the source says so, and allows them elsewhere', async () => {
    await h.adapters.configStore.createEventType({ name: 'purchase' });
    expect((await track('web', [{ type: 'anything' }])).statusCode).toBe(200);
    const refused = await track('strict', [{ type: 'purchase' }, { type: 'anything' }]);
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: 'EVENT_TYPE_UNKNOWN', details: [{ path: '/events/1/type' }] });
    expect((await track('strict', [{ type: 'purchase' }])).statusCode).toBe(200);
  });

  it('applies a schema change at once (new version), and does not enforce a disabled type', async () => {
    await h.adapters.configStore.createEventType({ name: 'purchase', schema: priceSchema });
    expect((await track('web', [{ type: 'purchase', properties: { price: 'free' } }])).statusCode).toBe(422);
    await admin('PATCH', '/v1/event-types/purchase', { schema: { type: 'object', properties: { price: { type: 'string' } } } });
    expect((await track('web', [{ type: 'purchase', properties: { price: 'free' } }])).statusCode).toBe(200);
    expect((await track('web', [{ type: 'purchase', properties: { price: 1 } }])).statusCode).toBe(422);
    await admin('PATCH', '/v1/event-types/purchase', { enabled: false });
    expect((await track('web', [{ type: 'purchase', properties: { price: 1 } }])).statusCode).toBe(200);
  });
});
