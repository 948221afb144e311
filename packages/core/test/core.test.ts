import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ERROR_CATALOGUE, assertPropertiesWithin, backoffDelayMs, decodeBatch, encodeReceived, eventIds, newEventId, normaliseTrack, renderErrorsDoc, type TrackPayload } from '../src/index.ts';

describe('normaliseTrack', () => {
  const context = { profileId: 'p', sessionId: 's', receivedAt: '2026-05-01T10:00:00.000Z', metadata: { ip: '198.51.100.1' } };

  it('sets ids, times and merges payload-level context and properties under the event\'s own', () => {
    const payload: TrackPayload = { source: { id: 'src' }, context: { page: 'a', lang: 'en' }, properties: { plan: 'free' }, events: [{ id: 'given', type: 't', context: { page: 'b' } }, { type: 'u', time: '2026-05-01T09:00:00+01:00', properties: { plan: 'pro' } }] };
    const [first, second] = normaliseTrack(payload, { ...context, ids: eventIds(payload) });
    expect(first).toMatchObject({ id: 'given', sourceId: 'src', profileId: 'p', sessionId: 's', time: '2026-05-01T10:00:00.000Z', context: { page: 'b', lang: 'en' }, properties: { plan: 'free' } });
    expect(second?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(second).toMatchObject({ time: '2026-05-01T08:00:00.000Z', receivedAt: '2026-05-01T10:00:00.000Z', properties: { plan: 'pro' } });
  });

  it('generates time-ordered UUIDv7 ids', () => {
    const ids = eventIds({ source: { id: 'src' }, events: Array.from({ length: 50 }, () => ({ type: 't' })) });
    expect([...ids].sort()).toEqual(ids);
  });

  it('writes RFC 9562 UUIDv7: version 7, variant 10, the current time, strictly increasing', () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => newEventId());
    const after = Date.now();
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const time = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(time(ids[0]!)).toBeGreaterThanOrEqual(before);
    expect(time(ids.at(-1)!)).toBeLessThanOrEqual(after + 1);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
  });

  it('uses the ids it is given, in order (the worker gets them from the API)', () => {
    const payload: TrackPayload = { source: { id: 'src' }, events: [{ id: 'given', type: 't' }, { type: 'u' }] };
    const ids = eventIds(payload);
    expect(ids[0]).toBe('given');
    expect(normaliseTrack(payload, { ...context, ids }).map((event) => event.id)).toEqual(ids);
    expect(normaliseTrack(payload, { ...context, ids })).toEqual(normaliseTrack(payload, { ...context, ids })); // deterministic
  });
});

describe('assertPropertiesWithin', () => {
  it('refuses oversize properties with PROPERTIES_TOO_LARGE and the event path, counting the merged payload-level ones', () => {
    expect(() => assertPropertiesWithin({ source: { id: 'src' }, events: [{ type: 't' }, { type: 't', properties: { x: 'y'.repeat(2000) } }] }, 1000)).toThrow(
      expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE', details: [expect.objectContaining({ path: '/events/1/properties' })] }),
    );
    const shared: TrackPayload = { source: { id: 'src' }, context: { x: 'y'.repeat(600) }, events: [{ type: 't', properties: { z: 'y'.repeat(600) } }] };
    expect(() => assertPropertiesWithin(shared, 1000)).toThrow(expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE' }));
    expect(() => assertPropertiesWithin(shared, 2000)).not.toThrow();
  });

  it('skips the measurement only where no event can exceed the limit, even when numbers grow on serialisation', () => {
    // `1e20` is 4 bytes in the body and 21 once serialised.
    const body = `{"source":{"id":"src"},"events":[{"type":"t","properties":{"n":[${Array.from({ length: 40 }, () => '1e20').join(',')}]}}]}`;
    const payload = JSON.parse(body) as TrackPayload;
    const serialised = JSON.stringify(payload.events[0]?.properties).length;
    expect(serialised - 1).toBeGreaterThan(body.length); // a "body within the limit" shortcut would let it through
    expect(() => assertPropertiesWithin(payload, serialised - 1, body.length)).toThrow(expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE' }));
    // Where body × 6 fits the limit, it is not measured at all (a wrong body size shows it).
    expect(() => assertPropertiesWithin(payload, 60, 10)).not.toThrow();
    expect(() => assertPropertiesWithin(payload, 60)).toThrow(expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE' }));
  });
});

describe('backoffDelayMs', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
  it('doubles per attempt within [half, full] of the ceiling and never exceeds the maximum', () => {
    expect(backoffDelayMs(policy, 0, () => 0)).toBe(50);
    expect(backoffDelayMs(policy, 0, () => 1)).toBe(100);
    expect(backoffDelayMs(policy, 3, () => 1)).toBe(800);
    expect(backoffDelayMs(policy, 50, () => 1)).toBe(1000);
    expect(backoffDelayMs(policy, 50, () => 0)).toBe(500);
  });
});

describe('error catalogue', () => {
  it('gives every code a 4xx/5xx status, and 503s are retryable', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
      expect(spec.statusCode).toBeGreaterThanOrEqual(400);
      if (spec.statusCode === 503) expect([code, spec.retryable]).toEqual([code, true]);
    }
  });

  it('keeps docs/errors.md in sync with the catalogue', () => {
    expect(readFileSync('docs/errors.md', 'utf8')).toBe(renderErrorsDoc());
  });
});

describe('event batch messages', () => {
  const metadata = { ip: '203.0.113.1' };
  const facts = { profileId: 'p1', sessionId: 's1', receivedAt: '2026-01-01T00:00:00.000Z', metadata };

  it('carries the body as received, spliced in unchanged, and reads back the normalised events', () => {
    // Spacing, key order and a number's spelling survive: the text is not re-serialised.
    const body = '{ "source": {"id":"web"}, "context": {"page":"home"}, "events": [ {"type":"view","properties":{"n":1e2}}, {"id":"own","type":"buy","time":"2026-01-01T01:00:00+01:00"} ] }';
    const payload = JSON.parse(body) as TrackPayload;
    const ids = eventIds(payload);
    const message = encodeReceived({ ...facts, ids }, body);
    expect(message).toContain(body);
    const events = decodeBatch(JSON.parse(message));
    expect(events).toEqual(normaliseTrack(payload, { ...facts, ids }));
    expect(events?.map((event) => event.id)).toEqual([ids[0], 'own']);
    expect(events?.[0]).toMatchObject({ type: 'view', sourceId: 'web', sessionId: 's1', profileId: 'p1', time: facts.receivedAt, context: { page: 'home' }, properties: { n: 100 }, metadata });
    expect(events?.[1]?.time).toBe('2026-01-01T00:00:00.000Z');
  });

  it('reads the compact form of earlier builds and full messages (dead-letter replays)', () => {
    const event = (id: string) => ({ id, type: 'view', sourceId: 'web', sessionId: 's1', profileId: 'p1', time: 't', receivedAt: 't', properties: { id }, context: {}, tags: [], metadata });
    const { sourceId, sessionId, profileId, receivedAt, time, context } = event('a');
    const compact = { shared: { sourceId, sessionId, profileId, receivedAt, time, context, metadata }, events: [{ id: 'a', type: 'view', properties: { id: 'a' }, tags: [] }, { id: 'b', type: 'view', properties: { id: 'b' }, tags: [] }] };
    expect(decodeBatch(JSON.parse(JSON.stringify(compact)))).toEqual([event('a'), event('b')]);
    const full = { events: [event('a')] };
    expect(decodeBatch(full)).toEqual(full.events);
  });

  it('refuses, without throwing, what is not an event batch', () => {
    const payload = { source: { id: 'web' }, events: [{ type: 'view' }] };
    expect(decodeBatch({ nope: true })).toBeUndefined();
    expect(decodeBatch({ shared: 'x', events: [] })).toBeUndefined();
    expect(decodeBatch(null)).toBeUndefined();
    expect(decodeBatch({ request: { ...facts, ids: [] }, payload })).toBeUndefined(); // an id per event
    expect(decodeBatch({ request: { ...facts, ids: ['a'] }, payload: { events: [{ type: 'view' }] } })).toBeUndefined();
    expect(decodeBatch({ request: { ...facts, ids: ['a'] }, payload: { ...payload, events: [{ type: 'view', time: 'never' }] } })).toBeUndefined();
    expect(decodeBatch({ request: { ...facts, ids: ['a'] }, payload })).toHaveLength(1);
  });
});
