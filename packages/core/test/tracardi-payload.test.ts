// Tracardi's payload fields through the one message format: what the API publishes and a
// dead-letter replay republishes both decode, field for field.
import { describe, expect, it } from '@jest/globals';
import { decodeEventsMessage, encodeEvents, encodeReceived, type TrackedEvent } from '../src/index.ts';

const facts = { profileId: 'p-1', sessionId: 's-1', receivedAt: '2026-12-01T10:00:09.000Z', metadata: { origin: 'https://shop.example', clientTimestamp: '1764583200123' }, ids: ['e-1'] };

describe("Tracardi's payload in bus messages", () => {
  it('decodes a received body with a time object, device and options into the stored event', () => {
    const body = { source: { id: 'web' }, profile: null, device: { id: 'dev-1' }, options: { a: 1 }, events: [{ type: 'page-view', time: { create: '2026-12-01T11:00:00+01:00', update: '2026-12-02T00:00:00Z' }, options: { fire: true } }] };
    const decoded = decodeEventsMessage(encodeReceived(facts, JSON.stringify(body)));
    expect(decoded).toMatchObject({ ok: true, events: [{ time: '2026-12-01T10:00:00.000Z', times: { create: '2026-12-01T10:00:00.000Z', update: '2026-12-02T00:00:00.000Z' }, device: { id: 'dev-1' }, options: { a: 1, fire: true }, metadata: facts.metadata }] });
  });

  it('round-trips the stored fields through an events message (a dead-letter replay), and refuses malformed ones', () => {
    const [event] = (decodeEventsMessage(encodeReceived(facts, JSON.stringify({ source: { id: 'web' }, device: { id: 'dev-1' }, events: [{ type: 't', time: { insert: '2026-12-01T10:00:00Z' }, options: { x: true } }] }))) as { events: TrackedEvent[] }).events;
    expect(decodeEventsMessage(encodeEvents([event!]))).toEqual({ ok: true, events: [event] });
    const bad = (override: Partial<TrackedEvent> | Record<string, unknown>) => decodeEventsMessage(encodeEvents([{ ...event!, ...override }]));
    expect(bad({ times: { create: '2026-12-01T10:00:00Z' } })).toMatchObject({ ok: false }); // not the stored form
    expect(bad({ times: { later: '2026-12-01T10:00:00.000Z' } })).toMatchObject({ ok: false });
    expect(bad({ device: 'dev-1' })).toMatchObject({ ok: false });
    expect(bad({ metadata: { clientTimestamp: 'x'.repeat(65) } })).toMatchObject({ ok: false });
  });

  it('refuses a received body whose time object holds what the API would not accept', () => {
    const decoded = decodeEventsMessage(encodeReceived(facts, JSON.stringify({ source: { id: 'web' }, events: [{ type: 't', time: { create: 'yesterday' } }] })));
    expect(decoded).toMatchObject({ ok: false, reason: expect.stringContaining('/payload/events/0/time/create') });
  });
});
