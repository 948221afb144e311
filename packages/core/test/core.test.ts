import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ERROR_CATALOGUE, backoffDelayMs, decodeBatch, encodeBatch, newEventId, normaliseTrack, renderErrorsDoc } from '../src/index.ts';

describe('normaliseTrack', () => {
  const context = { profileId: 'p', sessionId: 's', receivedAt: new Date('2026-05-01T10:00:00Z'), metadata: { ip: '198.51.100.1' }, maxPropertiesBytes: 1000 };

  it('sets ids, times and merges payload-level context and properties under the event\'s own', () => {
    const [first, second] = normaliseTrack(
      { source: { id: 'src' }, context: { page: 'a', lang: 'en' }, properties: { plan: 'free' }, events: [{ id: 'given', type: 't', context: { page: 'b' } }, { type: 'u', time: '2026-05-01T09:00:00+01:00', properties: { plan: 'pro' } }] },
      context,
    );
    expect(first).toMatchObject({ id: 'given', sourceId: 'src', profileId: 'p', sessionId: 's', time: '2026-05-01T10:00:00.000Z', context: { page: 'b', lang: 'en' }, properties: { plan: 'free' } });
    expect(second?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(second).toMatchObject({ time: '2026-05-01T08:00:00.000Z', receivedAt: '2026-05-01T10:00:00.000Z', properties: { plan: 'pro' } });
  });

  it('generates time-ordered UUIDv7 ids', () => {
    const events = normaliseTrack({ source: { id: 'src' }, events: Array.from({ length: 50 }, () => ({ type: 't' })) }, context);
    const ids = events.map((event) => event.id);
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

  it('refuses oversize properties with PROPERTIES_TOO_LARGE and the event path', () => {
    expect(() => normaliseTrack({ source: { id: 'src' }, events: [{ type: 't' }, { type: 't', properties: { x: 'y'.repeat(2000) } }] }, context)).toThrow(
      expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE', details: [expect.objectContaining({ path: '/events/1/properties' })] }),
    );
  });

  it('skips the measurement only where no event can exceed the limit, even when numbers grow on serialisation', () => {
    // `1e20` is 4 bytes in the body and 21 once serialised.
    const body = `{"source":{"id":"src"},"events":[{"type":"t","properties":{"n":[${Array.from({ length: 40 }, () => '1e20').join(',')}]}}]}`;
    const payload = JSON.parse(body) as Parameters<typeof normaliseTrack>[0];
    const serialised = JSON.stringify(payload.events[0]?.properties).length;
    expect(serialised - 1).toBeGreaterThan(body.length); // a "body within the limit" shortcut would let it through
    const limit = serialised - 1;
    expect(() => normaliseTrack(payload, { ...context, maxPropertiesBytes: limit, bodyBytes: body.length })).toThrow(expect.objectContaining({ code: 'PROPERTIES_TOO_LARGE' }));
    // A body small enough relative to the limit is not measured at all.
    expect(normaliseTrack(payload, { ...context, maxPropertiesBytes: body.length * 6, bodyBytes: body.length })).toHaveLength(1);
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
  // As normaliseTrack builds them: one metadata object per request.
  const metadata = { ip: '203.0.113.1' };
  const event = (id: string, time: string, context: Record<string, string>) => ({
    id, type: 'view', sourceId: 'web', sessionId: 's1', profileId: 'p1', time, receivedAt: '2026-01-01T00:00:00.000Z', properties: { id }, context, tags: [], metadata,
  });

  it('sends what every event shares once and reads back the same events', () => {
    const context = { page: 'home' };
    const events = [event('a', '2026-01-01T00:00:00.000Z', context), event('b', '2026-01-01T00:00:00.000Z', context), event('c', '2025-12-31T00:00:00.000Z', context)];
    const message = encodeBatch(events);
    expect(message.shared).toEqual({ sourceId: 'web', sessionId: 's1', profileId: 'p1', receivedAt: '2026-01-01T00:00:00.000Z', context, metadata: { ip: '203.0.113.1' } });
    expect(message.events[0]).toEqual({ id: 'a', type: 'view', time: '2026-01-01T00:00:00.000Z', properties: { id: 'a' }, tags: [] });
    expect(decodeBatch(JSON.parse(JSON.stringify(message)))).toEqual(events);
    expect(JSON.stringify(message).length).toBeLessThan(JSON.stringify({ events }).length * 0.75);
  });

  it('keeps a field per event when events differ in it, and writes one event out in full', () => {
    const events = [event('a', 't1', { page: 'home' }), event('b', 't2', { page: 'cart' })];
    expect(decodeBatch(JSON.parse(JSON.stringify(encodeBatch(events))))).toEqual(events);
    expect(encodeBatch([events[0]!])).toEqual({ events: [events[0]] });
  });

  it('reads full messages (dead-letter replays) and refuses what is not a batch', () => {
    const full = { events: [event('a', 't1', {})] };
    expect(decodeBatch(full)).toEqual(full.events);
    expect(decodeBatch({ nope: true })).toBeUndefined();
    expect(decodeBatch({ shared: 'x', events: [] })).toBeUndefined();
    expect(decodeBatch(null)).toBeUndefined();
  });
});
