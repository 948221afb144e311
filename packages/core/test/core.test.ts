import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ERROR_CATALOGUE, assertPropertiesWithin, backoffDelayMs, decodeDeadLetter, decodeEventsMessage, encodeDeadLetter, encodeEvents, encodeReceived, eventIds, measureJson, messageDeadLetter, newEventId, normaliseTrack, parseEventTime, renderErrorsDoc, type TrackPayload, type TrackedEvent } from '../src/index.ts';

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
  const limits = (maxPropertiesBytes: number) => ({ maxPropertiesBytes, maxExpansionBytes: 1_000_000 });

  it('refuses oversize properties with PROPERTIES_TOO_LARGE and the event path, counting the merged payload-level ones', () => {
    expect(() => assertPropertiesWithin({ source: { id: 'src' }, events: [{ type: 't' }, { type: 't', properties: { x: 'y'.repeat(2000) } }] }, limits(1000))).toThrow(
      expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE', details: [expect.objectContaining({ path: '/events/1/properties' })] }),
    );
    const shared: TrackPayload = { source: { id: 'src' }, context: { x: 'y'.repeat(600) }, events: [{ type: 't', properties: { z: 'y'.repeat(600) } }] };
    expect(() => assertPropertiesWithin(shared, limits(1000))).toThrow(expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE' }));
    expect(() => assertPropertiesWithin(shared, limits(2000))).not.toThrow();
  });

  it('skips the measurement only where no event can exceed the limit, even when numbers grow on serialisation', () => {
    // `1e20` is 4 bytes in the body and 21 once serialised.
    const body = `{"source":{"id":"src"},"events":[{"type":"t","properties":{"n":[${Array.from({ length: 40 }, () => '1e20').join(',')}]}}]}`;
    const payload = JSON.parse(body) as TrackPayload;
    const serialised = JSON.stringify(payload.events[0]?.properties).length;
    expect(serialised - 1).toBeGreaterThan(body.length); // a "body within the limit" shortcut would let it through
    expect(() => assertPropertiesWithin(payload, limits(serialised - 1), body.length)).toThrow(expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE' }));
    // Where body × 6 fits the limit, it is not measured at all (a wrong body size shows it).
    expect(() => assertPropertiesWithin(payload, limits(60), 10)).not.toThrow();
    expect(() => assertPropertiesWithin(payload, limits(60))).toThrow(expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE' }));
  });
});

describe('payload-level properties', () => {
  it('refuses a request whose shared properties, copied into every event, would store far more than was sent', () => {
    // 64 KB of shared properties over 100 events: 6.4 MB stored from a 64 KB request.
    const payload: TrackPayload = { source: { id: 'src' }, properties: { blob: 'x'.repeat(64 * 1024) }, events: Array.from({ length: 100 }, () => ({ type: 't' })) };
    const body = JSON.stringify(payload);
    expect(() => assertPropertiesWithin(payload, { maxPropertiesBytes: 1_000_000, maxExpansionBytes: 1024 * 1024 }, Buffer.byteLength(body))).toThrow(
      expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE', details: [expect.objectContaining({ path: '/properties' })] }),
    );
    // The same shared properties on one event, or small ones on 100, are fine.
    expect(() => assertPropertiesWithin({ ...payload, events: [{ type: 't' }] }, { maxPropertiesBytes: 1_000_000, maxExpansionBytes: 1024 * 1024 })).not.toThrow();
    expect(() => assertPropertiesWithin({ ...payload, properties: { page: '/home' } }, { maxPropertiesBytes: 1_000_000, maxExpansionBytes: 1024 * 1024 })).not.toThrow();
  });
});

describe('event times', () => {
  it('reads RFC 3339 times, offsets, fractions and leap seconds into what the store keeps', () => {
    expect(parseEventTime('2026-05-01T09:00:00+01:00')).toBe(Date.parse('2026-05-01T08:00:00Z'));
    expect(parseEventTime('2026-05-01t09:00:00.123456789z')).toBe(Date.parse('2026-05-01T09:00:00.123Z'));
    expect(parseEventTime('2016-12-31T23:59:60Z')).toBe(Date.parse('2016-12-31T23:59:59.999Z'));
    expect(parseEventTime('0001-01-01T00:00:00Z')).toBe(Date.parse('0001-01-01T00:00:00.000Z'));
    expect(parseEventTime('0099-06-01T00:00:00Z')).toBe(Date.parse('0099-06-01T00:00:00.000Z')); // not 1999
    expect(parseEventTime('2024-02-29T00:00:00Z')).toBeDefined();
  });

  it('refuses what the worker could not store: other forms, impossible dates, instants outside years 0001–9999', () => {
    for (const text of ['2026-05-01', '2026-05-01T09:00:00', '2026-05-01T09:00:00+00', '2026-05-01 09:00:00Z', '2026-13-01T00:00:00Z', '2023-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-05-01T24:00:00Z', '2026-05-01T09:60:00Z', '2026-05-01T09:00:61Z', '2026-05-01T09:00:00+24:00', '9999-12-31T23:59:59-01:00', '0001-01-01T00:00:00+01:00', '+02026-05-01T00:00:00Z', 'never', '']) {
      expect([text, parseEventTime(text)]).toEqual([text, undefined]);
    }
  });

  it('accepts a time exactly when the normaliser can store it', () => {
    // A small fuzz: every time the parser takes normalises to an ISO string of the same instant that sorts as it does.
    const parts = (n: number, width: number) => String(n).padStart(width, '0');
    const stored: [number, string][] = [];
    for (let i = 0; i < 2000; i += 1) {
      const text = `${parts(1 + ((i * 7919) % 9999), 4)}-${parts(1 + (i % 13), 2)}-${parts(1 + (i % 32), 2)}T${parts(i % 25, 2)}:${parts(i % 61, 2)}:${parts(i % 62, 2)}${['Z', '+05:30', '-23:59', '+00'][i % 4]}`;
      const ms = parseEventTime(text);
      if (ms === undefined) continue;
      const [event] = normaliseTrack({ source: { id: 's' }, events: [{ type: 't', time: text }] }, { profileId: 'p', sessionId: 's', receivedAt: '2026-01-01T00:00:00.000Z', metadata: {}, ids: ['e'] });
      expect(Date.parse(event!.time)).toBe(ms);
      expect(event!.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      stored.push([ms, event!.time]);
    }
    expect(stored.length).toBeGreaterThan(100);
    const byTime = [...stored].sort((a, b) => a[0] - b[0]).map(([, text]) => text);
    expect([...byTime].sort()).toEqual(byTime);
  });
});

describe('measureJson', () => {
  it('measures depth and members in one loop, strings and escapes ignored, without a stack', () => {
    expect(measureJson('{}')).toEqual({ depth: 1, members: 0 });
    expect(measureJson('{"a":[1,{"b":"x:{[\\"]"}]}')).toEqual({ depth: 3, members: 2 });
    expect(measureJson('[]'.repeat(3))).toEqual({ depth: 1, members: 0 });
    expect(measureJson(`${'['.repeat(200_000)}${']'.repeat(200_000)}`).depth).toBe(200_000);
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

describe('events-topic messages', () => {
  const metadata = { ip: '203.0.113.1' };
  const facts = { profileId: 'p1', sessionId: 's1', receivedAt: '2026-01-01T00:00:00.000Z', metadata };
  const tracked = (id: string): TrackedEvent => ({ id, type: 'view', sourceId: 'web', sessionId: 's1', profileId: 'p1', time: '2026-01-01T00:00:00.000Z', receivedAt: '2026-01-01T00:00:00.000Z', properties: { id }, context: {}, tags: [], metadata });

  it('carries the body as received, spliced in unchanged, in a version-1 envelope, and reads back the normalised events', () => {
    // Spacing, key order and a number's spelling survive: the text is not re-serialised.
    const body = '{ "source": {"id":"web"}, "context": {"page":"home"}, "events": [ {"type":"view","properties":{"n":1e2}}, {"id":"own","type":"buy","time":"2026-01-01T01:00:00+01:00"} ] }';
    const payload = JSON.parse(body) as TrackPayload;
    const ids = eventIds(payload);
    const message = encodeReceived({ ...facts, ids }, body);
    expect(message).toContain(body);
    expect(JSON.parse(message)).toMatchObject({ v: 1, kind: 'received' });
    const decoded = decodeEventsMessage(Buffer.from(message));
    expect(decoded).toEqual({ ok: true, events: normaliseTrack(payload, { ...facts, ids }) });
    const events = decoded.ok ? decoded.events : [];
    expect(events.map((event) => event.id)).toEqual([ids[0], 'own']);
    expect(events[0]).toMatchObject({ type: 'view', sourceId: 'web', sessionId: 's1', profileId: 'p1', time: facts.receivedAt, context: { page: 'home' }, properties: { n: 100 }, metadata });
    expect(events[1]?.time).toBe('2026-01-01T00:00:00.000Z');
  });

  it('round-trips tracked events written out in full (dead-letter replays)', () => {
    expect(decodeEventsMessage(encodeEvents([tracked('a'), tracked('b')]))).toEqual({ ok: true, events: [tracked('a'), tracked('b')] });
  });

  it('refuses, with a reason and without throwing, every message that is not exactly a version-1 envelope', () => {
    const payload = { source: { id: 'web' }, events: [{ type: 'view' }] };
    const received = (request: object, body: object = payload) => JSON.stringify({ v: 1, kind: 'received', request: { ...facts, ids: ['a'], ...request }, payload: body });
    const refused = [
      'not json',
      'null',
      '{"nope":true}',
      JSON.stringify({ request: { ...facts, ids: ['a'] }, payload }), // unversioned (the shape of earlier builds)
      JSON.stringify({ events: [tracked('a')] }),
      JSON.stringify({ v: 2, kind: 'events', events: [tracked('a')] }),
      JSON.stringify({ v: 1, kind: 'events', events: [{ ...tracked('a'), time: '2016-12-31T23:59:60Z' }] }), // not the stored form
      JSON.stringify({ v: 1, kind: 'events', events: [{ ...tracked('a'), sourceId: undefined }] }),
      received({ ids: [] }), // an id per event
      received({ ids: ['a', 'b'] }),
      received({}, { events: [{ type: 'view' }] }),
      received({}, { ...payload, events: [{ type: 'view', time: '2026-01-01T00:00:00+00' }] }),
      received({ receivedAt: 'yesterday' }),
    ];
    for (const text of refused) {
      const decoded = decodeEventsMessage(Buffer.from(text));
      expect([text.slice(0, 80), decoded.ok]).toEqual([text.slice(0, 80), false]);
      if (!decoded.ok) expect(decoded.reason.length).toBeGreaterThan(5);
    }
    expect(decodeEventsMessage(received({}))).toMatchObject({ ok: true, events: [expect.objectContaining({ id: 'a' })] });
  });
});

describe('dead letters', () => {
  it('keep a message byte for byte with its failure, and read back', () => {
    const payload = Buffer.from([0xff, 0x00, 0x7b]);
    const letter = messageDeadLetter({ key: 'k', payload, properties: { a: 'b' } }, { code: 'MESSAGE_INVALID', reason: 'not JSON', origin: 'events 1', attempts: 3 });
    const decoded = decodeDeadLetter(encodeDeadLetter(letter));
    expect(decoded).toEqual({ ok: true, letter });
    expect(decoded.ok && decoded.letter.kind === 'message' ? Buffer.from(decoded.letter.message.payload, 'base64') : undefined).toEqual(payload);
    expect(decodeDeadLetter(Buffer.from('{"code":"X"}'))).toMatchObject({ ok: false });
    expect(decodeDeadLetter(Buffer.from('{'))).toMatchObject({ ok: false });
  });
});
