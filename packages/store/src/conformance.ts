import { afterEach, describe, expect, it } from '@jest/globals';
import type { TrackedEvent } from '@sluice/core';
import type { ProfileRecord, SessionRecord, StoreAdapter, StoreBatch } from './port.ts';

export interface StoreTestOptions {
  /** What `maintain()` keeps: events received within this many ms before its `now`. */
  readonly retentionMs: number;
}

export interface StoreTestContext {
  /** A provisioned store on fresh, empty storage (random names), with `options` applied. */
  readonly store: StoreAdapter;
  cleanup(): Promise<void>;
}

const DAY_MS = 86_400_000;

let counter = 0;

/** A tracked event with unique ids, received now; `overrides` set what a test cares about. */
export function sampleEvent(overrides: Partial<TrackedEvent> = {}): TrackedEvent {
  counter += 1;
  return {
    id: `evt-${String(Date.now())}-${String(counter)}`,
    type: 'page-view',
    sourceId: 'source-1',
    sessionId: 'session-1',
    profileId: 'profile-1',
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, counter % 60, counter % 1000)).toISOString(),
    receivedAt: new Date().toISOString(),
    properties: { url: 'https://example.com/', n: counter, nested: { a: [1, 2, 3] } },
    context: { page: { title: 'Home' } },
    tags: ['t1'],
    metadata: { ip: '203.0.113.9', userAgent: 'jest' },
    ...overrides,
  };
}

/** A batch of events alone (no profile or session updates). */
export const eventsOnly = (events: readonly TrackedEvent[]): StoreBatch => ({ events, profiles: [], sessions: [] });

const profile = (overrides: Partial<ProfileRecord>): ProfileRecord => ({
  id: 'p-1',
  firstSeen: '2026-01-01T00:00:00.000Z',
  lastSeen: '2026-01-01T00:00:00.000Z',
  lastSessionId: 's-1',
  lastSourceId: 'src-1',
  version: 1,
  ...overrides,
});

/** Properties nested `depth` arrays deep: JSON.stringify overflows the stack on them. */
function nestedArrays(depth: number): unknown {
  let value: unknown = [];
  for (let level = 0; level < depth; level += 1) value = [value];
  return value;
}

/** Receive times `seconds` apart, oldest first, ending a minute before now. */
const receivedAtSteps = (count: number, seconds = 1): string[] =>
  Array.from({ length: count }, (_, n) => new Date(Date.now() - 60_000 - (count - n) * seconds * 1000).toISOString());

/**
 * The contract of the five store ports — EventSink, EventReader, ProfileMerges,
 * StoreMaintenance, StoreProvisioner — which every adapter runs unchanged.
 */
export function runStoreConformance(adapterName: string, createContext: (options: StoreTestOptions) => Promise<StoreTestContext>): void {
  let context: StoreTestContext | undefined;
  const store = async (options: StoreTestOptions = { retentionMs: 0 }) => {
    context = await createContext(options);
    return context.store;
  };

  afterEach(async () => {
    await context?.store.close();
    await context?.cleanup();
    context = undefined;
  });

  describe(`EventSink conformance: ${adapterName}`, () => {
    it('writes a batch and reads every event back unchanged', async () => {
      const s = await store();
      const events = Array.from({ length: 500 }, () => sampleEvent());
      const outcomes = await s.writeBatch(eventsOnly(events));
      expect(outcomes).toHaveLength(500);
      expect(outcomes.every((outcome) => outcome.status === 'created')).toBe(true);
      expect(await s.getEvent('source-1', events[42]?.id ?? '')).toEqual(events[42]);
      expect(await s.getEvent('source-1', 'no-such-id')).toBeUndefined();
    });

    it('stores the fields of a Tracardi payload (time object, device, options, X-Timestamp) and reads them back unchanged', async () => {
      const s = await store();
      const event = sampleEvent({
        times: { create: '2026-01-01T09:59:58.000Z', insert: '2026-01-01T09:59:59.000Z', update: '2026-01-02T00:00:00.000Z' },
        device: { id: '0b9c7c3e-1111-4a4a-9999-1234567890ab', name: 'kiosk', screen: { w: 1920 } },
        options: { fire: true, saveSession: false, nested: { level: [1, 'two'] } },
        metadata: { ip: '203.0.113.9', userAgent: 'jest', origin: 'https://shop.example', clientTimestamp: '1767261598000' },
      });
      expect((await s.writeBatch(eventsOnly([event])))[0]?.status).toBe('created');
      expect(await s.getEvent('source-1', event.id)).toEqual(event);
    });

    it('is idempotent: writing the same ids again stores nothing new and reports them as existing', async () => {
      const s = await store();
      const events = [sampleEvent({ profileId: 'idem' }), sampleEvent({ profileId: 'idem' })];
      await s.writeBatch(eventsOnly(events));
      const again = await s.writeBatch(eventsOnly([...events, sampleEvent({ profileId: 'idem' })]));
      expect(again.map((outcome) => outcome.status)).toEqual(['exists', 'exists', 'created']);
      expect((await s.queryEvents({ profileId: 'idem', limit: 10 })).events).toHaveLength(3);
    });

    it('keeps ids per source: two sources write the same id, each reads back its own, a redelivery of either exists', async () => {
      const s = await store();
      const shop = sampleEvent({ id: 'order-1001', sourceId: 'shop', profileId: 'two-sources', properties: { total: 99 } });
      const demo = sampleEvent({ id: 'order-1001', sourceId: 'demo', profileId: 'two-sources', properties: { total: 1 } });
      expect(await s.writeBatch(eventsOnly([demo]))).toEqual([{ status: 'created' }]);
      expect(await s.writeBatch(eventsOnly([shop]))).toEqual([{ status: 'created' }]);
      expect(await s.getEvent('shop', 'order-1001')).toEqual(shop);
      expect(await s.getEvent('demo', 'order-1001')).toEqual(demo);
      expect(await s.getEvent('elsewhere', 'order-1001')).toBeUndefined();
      expect(await s.writeBatch(eventsOnly([shop, demo]))).toEqual([{ status: 'exists' }, { status: 'exists' }]);
      expect((await s.queryEvents({ profileId: 'two-sources', limit: 10 })).events).toHaveLength(2);
    });

    it('rejects an event that cannot be serialised, alone, with a code; its neighbours are created', async () => {
      const s = await store();
      const before = sampleEvent({ profileId: 'deep' });
      const deep = sampleEvent({ profileId: 'deep', properties: { nested: nestedArrays(10_000) } });
      const after = sampleEvent({ profileId: 'deep' });
      const outcomes = await s.writeBatch({ events: [before, deep, after], profiles: [profile({ id: 'p-deep', version: 1 })], sessions: [] });
      expect(outcomes).toEqual([{ status: 'created' }, { status: 'rejected', code: 'STORE_REJECTED', reason: expect.stringContaining('cannot be serialised') }, { status: 'created' }]);
      expect(await s.getEvent('source-1', before.id)).toEqual(before);
      expect(await s.getEvent('source-1', after.id)).toEqual(after);
      expect(await s.getEvent('source-1', deep.id)).toBeUndefined();
      expect(await s.getProfile('p-deep')).toMatchObject({ version: 1 });
    });

    it('writes profile and session updates with the batch; an older update never overwrites a newer one', async () => {
      const s = await store();
      const write = (profiles: ProfileRecord[], sessions: SessionRecord[] = []) => s.writeBatch({ events: [], profiles, sessions });
      expect(await write([profile({ id: 'pv', version: 10, lastSeen: '2026-01-10T00:00:00.000Z', lastSessionId: 'new', firstSeen: '2026-01-05T00:00:00.000Z' })])).toEqual([]);
      await write([profile({ id: 'pv', version: 5, lastSeen: '2026-01-02T00:00:00.000Z', lastSessionId: 'old', firstSeen: '2026-01-02T00:00:00.000Z' })]);
      expect(await s.getProfile('pv')).toMatchObject({ version: 10, lastSessionId: 'new', lastSeen: '2026-01-10T00:00:00.000Z', firstSeen: '2026-01-02T00:00:00.000Z' });
      await write([profile({ id: 'pv', version: 11, lastSessionId: 'newest', lastSeen: '2026-01-11T00:00:00.000Z' })]);
      expect(await s.getProfile('pv')).toMatchObject({ version: 11, lastSessionId: 'newest' });
      expect(await s.getProfile('missing')).toBeUndefined();

      const session = { id: 'sv', profileId: 'p-new', sourceId: 'src', firstSeen: '2026-01-03T00:00:00.000Z', lastSeen: '2026-01-04T00:00:00.000Z', version: 4 };
      const event = sampleEvent({ sessionId: 'sv' });
      expect(await s.writeBatch({ events: [event], profiles: [], sessions: [session] })).toEqual([{ status: 'created' }]);
      await write([], [{ ...session, profileId: 'p-old', version: 2, firstSeen: '2026-01-01T00:00:00.000Z' }]);
      expect(await s.getSession('sv')).toMatchObject({ profileId: 'p-new', version: 4, firstSeen: '2026-01-01T00:00:00.000Z' });
      expect(await s.getSession('missing')).toBeUndefined();
    });

    it('reports health, closes idempotently and then refuses writes with a retryable error', async () => {
      const s = await store();
      expect(await s.health()).toMatchObject({ ok: true, adapter: adapterName });
      await s.close();
      await s.close();
      await expect(s.writeBatch(eventsOnly([sampleEvent()]))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    });
  });

  describe(`EventReader conformance: ${adapterName}`, () => {
    it('pages events of a profile newest first by receive time, whatever the client time, without gaps or repeats', async () => {
      const s = await store();
      const received = receivedAtSteps(25);
      // Client times run backwards (and one is far in the future): they must not decide the order.
      const events = received.map((receivedAt, n) => sampleEvent({ profileId: 'pager', receivedAt, time: n === 7 ? '9999-12-31T23:59:59.999Z' : new Date(Date.UTC(2026, 1, 1, 0, 0, 60 - n)).toISOString() }));
      events.push(sampleEvent({ profileId: 'pager', receivedAt: events[3]?.receivedAt ?? '' }), sampleEvent({ profileId: 'pager', sourceId: 'source-0', id: events[3]?.id ?? '', receivedAt: events[3]?.receivedAt ?? '' }));
      await s.writeBatch(eventsOnly([...events, sampleEvent({ profileId: 'other' })]));
      const seen: TrackedEvent[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.queryEvents({ profileId: 'pager', limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.events);
        cursor = page.next;
      } while (cursor !== undefined);
      expect(seen).toHaveLength(27);
      expect(new Set(seen.map((event) => `${event.sourceId}/${event.id}`)).size).toBe(27);
      const receivedOrder = seen.map((event) => Date.parse(event.receivedAt));
      expect([...receivedOrder].sort((a, b) => b - a)).toEqual(receivedOrder);
      expect(seen[0]?.receivedAt).toBe(received.at(-1));
    });

    it('filters by session and by receive-time range', async () => {
      const s = await store();
      const [r1 = '', r2 = '', r3 = ''] = receivedAtSteps(3, 10);
      await s.writeBatch(eventsOnly([
        sampleEvent({ sessionId: 'sA', receivedAt: r1, time: '2020-01-01T00:00:00.000Z' }),
        sampleEvent({ sessionId: 'sA', receivedAt: r2, time: '9999-01-01T00:00:00.000Z' }),
        sampleEvent({ sessionId: 'sB', receivedAt: r3, time: '2026-01-01T00:00:00.000Z' }),
      ]));
      expect((await s.queryEvents({ sessionId: 'sA', limit: 10 })).events.map((event) => event.receivedAt)).toEqual([r2, r1]);
      expect((await s.queryEvents({ from: r2, to: r3, limit: 10 })).events.map((event) => event.receivedAt)).toEqual([r2]);
      await expect(s.queryEvents({ from: 'yesterday', limit: 10 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    it('lists the distinct context values of some profiles, scalars as text, in byte order, capped, without other profiles\' values', async () => {
      const s = await store();
      const segment = (fields: Record<string, unknown>) => ({ page: { title: 'Home' }, segment: fields });
      await s.writeBatch(eventsOnly([
        sampleEvent({ profileId: 'ids-a', context: segment({ userId: 'zoë@example.com', anonymousId: 'anon-2' }) }),
        sampleEvent({ profileId: 'ids-a', context: segment({ userId: 'zoë@example.com', anonymousId: 'anon-1' }) }),
        sampleEvent({ profileId: 'ids-a', sourceId: 'source-2', context: segment({ userId: 42 }) }),
        sampleEvent({ profileId: 'ids-b', context: segment({ userId: 'Bob', anonymousId: 'anon-3' }) }),
        // Objects, values longer than listed, absent ones and another profile's are never listed.
        sampleEvent({ profileId: 'ids-b', context: segment({ userId: { nested: 'x' }, anonymousId: true }) }),
        sampleEvent({ profileId: 'ids-b', context: segment({ userId: 'u'.repeat(1025) }) }),
        sampleEvent({ profileId: 'ids-b' }),
        sampleEvent({ profileId: 'ids-c', context: segment({ userId: 'carol', anonymousId: 'anon-9' }) }),
      ]));
      expect(await s.contextValues({ profileIds: ['ids-a', 'ids-b'], path: ['segment', 'userId'], limit: 10 })).toEqual(['42', 'Bob', 'zoë@example.com']);
      expect(await s.contextValues({ profileIds: ['ids-a', 'ids-b'], path: ['segment', 'userId'], limit: 2 })).toEqual(['42', 'Bob']);
      expect(await s.contextValues({ profileIds: ['ids-a'], path: ['segment', 'anonymousId'], limit: 10 })).toEqual(['anon-1', 'anon-2']);
      expect(await s.contextValues({ profileIds: ['nobody'], path: ['segment', 'userId'], limit: 10 })).toEqual([]);
      expect(await s.contextValues({ profileIds: ['ids-b'], path: ['segment', 'anonymousId'], limit: 10 })).toEqual(['anon-3', 'true']);
      await expect(s.contextValues({ profileIds: ['ids-a'], path: ["segment') OR 1=1 --"], limit: 10 })).rejects.toThrow(RangeError);
    });

    it('rejects a malformed cursor with INVALID_CURSOR', async () => {
      const s = await store();
      await expect(s.queryEvents({ limit: 5, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      const oldFormat = Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', 'evt-1'])).toString('base64url');
      await expect(s.queryEvents({ limit: 5, cursor: oldFormat })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    });
  });

  describe(`ProfileMerges conformance: ${adapterName}`, () => {
    it('records a merge once: the first merge of a profile stays, a second answers with it; removing backs out only that merge', async () => {
      const s = await store();
      const first = { from: 'anon-1', into: 'user-1', mergedAt: '2026-12-01T10:00:00.000Z' };
      expect(await s.getMerge('anon-1')).toBeUndefined();
      expect(await s.recordMerge(first)).toEqual(first);
      expect(await s.getMerge('anon-1')).toEqual(first);
      expect(await s.recordMerge(first)).toEqual(first);
      expect(await s.recordMerge({ from: 'anon-1', into: 'user-2', mergedAt: '2026-12-01T11:00:00.000Z' })).toEqual(first);
      await s.removeMerge('anon-1', 'user-2');
      expect(await s.getMerge('anon-1')).toEqual(first);
      await s.removeMerge('anon-1', 'user-1');
      expect(await s.getMerge('anon-1')).toBeUndefined();
      expect(await s.getMerge('user-1')).toBeUndefined();
    });

    it('answers lookups asked at once each with its own profile\'s merge (as the API asks them: many a tick)', async () => {
      const s = await store();
      const at = '2026-12-01T10:00:00.000Z';
      await Promise.all(['m-1', 'm-3'].map((from) => s.recordMerge({ from, into: `into-${from}`, mergedAt: at })));
      const ids = Array.from({ length: 1500 }, (_, n) => (n % 500 === 1 ? 'm-1' : n % 500 === 3 ? 'm-3' : `never-${String(n)}`));
      const answers = await Promise.all(ids.map((id) => s.getMerge(id)));
      expect(answers.map((merge, n) => merge?.into ?? `none:${ids[n]!}`)).toEqual(ids.map((id) => (id.startsWith('m-') ? `into-${id}` : `none:${id}`)));
    });

    it('lists the merges into a profile (one hop), ordered by the merged profile, capped', async () => {
      const s = await store();
      const at = '2026-12-01T10:00:00.000Z';
      for (const from of ['anon-c', 'anon-a', 'anon-b']) await s.recordMerge({ from, into: 'survivor', mergedAt: at });
      await s.recordMerge({ from: 'older', into: 'anon-a', mergedAt: at });
      await s.recordMerge({ from: 'elsewhere', into: 'someone-else', mergedAt: at });
      expect(await s.getMergesInto('survivor', 10)).toEqual(['anon-a', 'anon-b', 'anon-c'].map((from) => ({ from, into: 'survivor', mergedAt: at })));
      expect((await s.getMergesInto('survivor', 2)).map((merge) => merge.from)).toEqual(['anon-a', 'anon-b']);
      expect((await s.getMergesInto('anon-a', 10)).map((merge) => merge.from)).toEqual(['older']);
      expect(await s.getMergesInto('nobody', 10)).toEqual([]);
      await s.removeMerge('anon-b', 'survivor');
      expect((await s.getMergesInto('survivor', 10)).map((merge) => merge.from)).toEqual(['anon-a', 'anon-c']);
    });

    it('lists every merge in the order of its time (then by profile), a page at a time, from a time on, and states its listing delay', async () => {
      const s = await store();
      const [t0, t1, t2] = ['2026-12-01T10:00:00.000Z', '2026-12-01T10:00:01.000Z', '2026-12-01T10:00:02.500Z'] as const;
      const merges = [
        { from: 'lm-b', into: 'lm-x', mergedAt: t0 },
        { from: 'lm-d', into: 'lm-c', mergedAt: t2 },
        { from: 'lm-a', into: 'lm-x', mergedAt: t0 },
        { from: 'lm-c', into: 'lm-y', mergedAt: t1 },
      ];
      for (const merge of merges) await s.recordMerge(merge);
      const inOrder = ['lm-a', 'lm-b', 'lm-c', 'lm-d'].map((from) => merges.find((merge) => merge.from === from));
      expect(await s.listMerges({ limit: 10 })).toEqual(inOrder);
      const first = await s.listMerges({ limit: 2 });
      expect(first.map((merge) => merge.from)).toEqual(['lm-a', 'lm-b']);
      const second = await s.listMerges({ limit: 2, after: first[1]! });
      expect(second.map((merge) => merge.from)).toEqual(['lm-c', 'lm-d']);
      expect(await s.listMerges({ limit: 2, after: second[1]! })).toEqual([]);
      expect((await s.listMerges({ since: t1, limit: 10 })).map((merge) => merge.from)).toEqual(['lm-c', 'lm-d']);
      expect((await s.listMerges({ since: '2026-12-01T10:00:00.001Z', limit: 10 })).map((merge) => merge.from)).toEqual(['lm-c', 'lm-d']);
      expect((await s.listMerges({ since: t0, after: { mergedAt: t0, from: 'lm-a' }, limit: 10 })).map((merge) => merge.from)).toEqual(['lm-b', 'lm-c', 'lm-d']);
      expect(await s.listMerges({ since: '2026-12-01T10:00:03.000Z', limit: 10 })).toEqual([]);
      await s.removeMerge('lm-c', 'lm-y');
      expect((await s.listMerges({ limit: 10 })).map((merge) => merge.from)).toEqual(['lm-a', 'lm-b', 'lm-d']);
      for (const query of [{ limit: 0 }, { limit: 10_001 }, { limit: 1.5 }, { since: 'yesterday', limit: 5 }, { after: { mergedAt: 'soon', from: 'lm-a' }, limit: 5 }]) {
        await expect(s.listMerges(query)).rejects.toThrow(RangeError);
      }
      // Times are kept in one form, so a stamp written otherwise sorts as the time it is.
      expect(await s.recordMerge({ from: 'lm-e', into: 'lm-x', mergedAt: '2026-12-01T12:00:01+02:00' })).toEqual({ from: 'lm-e', into: 'lm-x', mergedAt: '2026-12-01T10:00:01.000Z' });
      expect((await s.listMerges({ since: t1, limit: 10 })).map((merge) => merge.from)).toEqual(['lm-e', 'lm-d']);
      await expect(s.recordMerge({ from: 'lm-f', into: 'lm-x', mergedAt: 'soon' })).rejects.toThrow(RangeError);
      const delay = await s.mergesListedWithin();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Number.POSITIVE_INFINITY);
    });

    it('keeps one merge when replicas race to merge one profile into different ones', async () => {
      const s = await store();
      const outcomes = await Promise.all(['a', 'b', 'c', 'd'].map((into) => s.recordMerge({ from: 'raced', into, mergedAt: '2026-12-01T10:00:00.000Z' })));
      expect(new Set(outcomes.map((merge) => merge.into)).size).toBe(1);
      expect((await s.getMerge('raced'))?.into).toBe(outcomes[0]?.into);
    });
  });

  describe(`StoreMaintenance conformance: ${adapterName}`, () => {
    it('keeps events received within the retention whatever their client time (2020, 9999), in receive order', async () => {
      const s = await store({ retentionMs: DAY_MS });
      const [first = '', second = '', third = ''] = receivedAtSteps(3);
      const events = [
        sampleEvent({ profileId: 'clock', receivedAt: first, time: '2020-01-01T00:00:00.000Z' }),
        sampleEvent({ profileId: 'clock', receivedAt: second, time: '9999-12-31T23:59:59.999Z' }),
        sampleEvent({ profileId: 'clock', receivedAt: third, time: '2020-06-01T00:00:00.000Z' }),
      ];
      await s.writeBatch(eventsOnly(events));
      await s.maintain(new Date());
      await s.maintain(new Date());
      expect((await s.queryEvents({ profileId: 'clock', limit: 10 })).events).toEqual([...events].reverse());
    });

    it('answers a snapshot request with a report (empty where it takes none)', async () => {
      const s = await store();
      expect((await s.snapshot(new Date())).actions).toEqual([]);
    });
  });

  describe(`StoreProvisioner conformance: ${adapterName}`, () => {
    it('provisions again without harm: idempotent, data kept, writes still work', async () => {
      const s = await store();
      const before = sampleEvent();
      await s.writeBatch(eventsOnly([before]));
      expect(Array.isArray(await s.provision())).toBe(true);
      await s.provision();
      expect(await s.getEvent(before.sourceId, before.id)).toEqual(before);
      expect(await s.writeBatch(eventsOnly([before, sampleEvent()]))).toEqual([{ status: 'exists' }, { status: 'created' }]);
    });
  });
}
