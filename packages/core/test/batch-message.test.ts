import { describe, expect, it } from '@jest/globals';
import { decodeEventsMessage, encodeBatch, encodeEvents, encodeReceived, type TrackedEvent } from '../src/index.ts';

// A `batch` message: requests a bus grouped into one message (PULSAR_GROUP_*).
describe('batch messages', () => {
  const metadata = { ip: '203.0.113.1' };
  const facts = (profileId: string, ids: string[]) => ({ profileId, sessionId: 's1', receivedAt: '2026-01-01T00:00:00.000Z', metadata, ids });
  const body = (type: string) => `{"source":{"id":"web"},"events":[{"type":"${type}"}]}`;
  const tracked = (id: string): TrackedEvent => ({ id, type: 'view', sourceId: 'web', sessionId: 's1', profileId: 'p1', time: '2026-01-01T00:00:00.000Z', receivedAt: '2026-01-01T00:00:00.000Z', properties: {}, context: {}, tags: [], metadata });

  it('carries its messages spliced in unchanged, and decodes to their events in order', () => {
    const first = Buffer.from(encodeReceived(facts('p1', ['a']), body('view')));
    const second = Buffer.from(encodeReceived(facts('p2', ['b']), body('buy')));
    const third = Buffer.from(encodeEvents([tracked('c'), tracked('d')]));
    const batch = encodeBatch([first, second, third]);
    expect(batch.toString()).toContain(first.toString());
    expect(JSON.parse(batch.toString())).toMatchObject({ v: 1, kind: 'batch' });
    const decoded = decodeEventsMessage(batch);
    expect(decoded.ok && decoded.events.map((event) => [event.id, event.profileId, event.type])).toEqual([['a', 'p1', 'view'], ['b', 'p2', 'buy'], ['c', 'p1', 'view'], ['d', 'p1', 'view']]);
  });

  it('refuses the whole batch, naming the message, when one of its messages is not a version-1 envelope; and refuses nested or empty batches', () => {
    const good = Buffer.from(encodeReceived(facts('p1', ['a']), body('view')));
    const bad = Buffer.from(encodeReceived(facts('p1', []), body('view'))); // no id for its event
    expect(decodeEventsMessage(encodeBatch([good, bad]))).toEqual({ ok: false, reason: 'message 1 of the batch: 0 ids for 1 events' });
    expect(decodeEventsMessage(encodeBatch([good, encodeBatch([good])]))).toEqual({ ok: false, reason: 'message 1 of the batch is a batch' });
    expect(decodeEventsMessage(encodeBatch([])).ok).toBe(false);
    expect(decodeEventsMessage(JSON.stringify({ v: 1, kind: 'batch', messages: [JSON.parse(good.toString())], extra: 1 })).ok).toBe(false);
    expect(decodeEventsMessage(JSON.stringify({ v: 2, kind: 'batch', messages: [JSON.parse(good.toString())] })).ok).toBe(false);
    expect(decodeEventsMessage(encodeBatch([good, Buffer.from('{"v":1,"kind":"received"')])).ok).toBe(false); // not JSON as a whole
  });
});
