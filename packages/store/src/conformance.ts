import { afterEach, describe, expect, it } from '@jest/globals';
import type { TrackedEvent } from '@sluice/core';
import type { EventStore, ProfileRecord } from './port.ts';

export interface StoreTestContext {
  /** A store on fresh, empty storage (random names). */
  readonly store: EventStore;
  cleanup(): Promise<void>;
}

let counter = 0;

/** A tracked event with unique ids; `overrides` set what a test cares about. */
export function sampleEvent(overrides: Partial<TrackedEvent> = {}): TrackedEvent {
  counter += 1;
  return {
    id: `evt-${Date.now()}-${counter}`,
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

const profile = (overrides: Partial<ProfileRecord>): ProfileRecord => ({
  id: 'p-1',
  firstSeen: '2026-01-01T00:00:00.000Z',
  lastSeen: '2026-01-01T00:00:00.000Z',
  lastSessionId: 's-1',
  lastSourceId: 'src-1',
  version: 1,
  ...overrides,
});

/** The EventStore contract. Every adapter runs it unchanged. */
export function runEventStoreConformance(adapterName: string, createContext: () => Promise<StoreTestContext>): void {
  describe(`EventStore conformance: ${adapterName}`, () => {
    let context: StoreTestContext | undefined;
    const store = async () => {
      context = await createContext();
      return context.store;
    };

    afterEach(async () => {
      await context?.store.close();
      await context?.cleanup();
      context = undefined;
    });

    it('writes a batch and reads every event back unchanged', async () => {
      const s = await store();
      const events = Array.from({ length: 500 }, () => sampleEvent());
      const outcomes = await s.writeEvents(events);
      expect(outcomes).toHaveLength(500);
      expect(outcomes.every((outcome) => outcome.status === 'created')).toBe(true);
      expect(await s.getEvent(events[42]?.id ?? '')).toEqual(events[42]);
      expect(await s.getEvent('no-such-id')).toBeUndefined();
    });

    it('is idempotent: writing the same ids again stores nothing new and reports them as existing', async () => {
      const s = await store();
      const events = [sampleEvent({ profileId: 'idem' }), sampleEvent({ profileId: 'idem' })];
      await s.writeEvents(events);
      const again = await s.writeEvents([...events, sampleEvent({ profileId: 'idem' })]);
      expect(again.map((outcome) => outcome.status)).toEqual(['exists', 'exists', 'created']);
      const page = await s.queryEvents({ profileId: 'idem', limit: 10 });
      expect(page.events).toHaveLength(3);
    });

    it('pages events of a profile newest first without gaps or repeats', async () => {
      const s = await store();
      const events = Array.from({ length: 25 }, (_, n) => sampleEvent({ profileId: 'pager', time: new Date(Date.UTC(2026, 1, 1, 0, 0, n)).toISOString() }));
      events.push(sampleEvent({ profileId: 'pager', time: events[3]?.time ?? '' }));
      await s.writeEvents([...events, sampleEvent({ profileId: 'other' })]);
      const seen: TrackedEvent[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.queryEvents({ profileId: 'pager', limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.events);
        cursor = page.next;
      } while (cursor !== undefined);
      expect(seen).toHaveLength(26);
      expect(new Set(seen.map((event) => event.id)).size).toBe(26);
      const times = seen.map((event) => event.time);
      expect([...times].sort().reverse()).toEqual(times);
    });

    it('filters by session and by time range', async () => {
      const s = await store();
      const at = (second: number) => new Date(Date.UTC(2026, 2, 1, 0, 0, second)).toISOString();
      await s.writeEvents([
        sampleEvent({ sessionId: 'sA', time: at(1) }),
        sampleEvent({ sessionId: 'sA', time: at(2) }),
        sampleEvent({ sessionId: 'sB', time: at(3) }),
      ]);
      expect((await s.queryEvents({ sessionId: 'sA', limit: 10 })).events.map((event) => event.time)).toEqual([at(2), at(1)]);
      expect((await s.queryEvents({ from: at(2), to: at(3), limit: 10 })).events.map((event) => event.time)).toEqual([at(2)]);
    });

    it('rejects a malformed cursor with INVALID_CURSOR', async () => {
      const s = await store();
      await expect(s.queryEvents({ limit: 5, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    });

    it('never lets an older profile update overwrite a newer one', async () => {
      const s = await store();
      await s.upsertProfiles([profile({ id: 'pv', version: 10, lastSeen: '2026-01-10T00:00:00.000Z', lastSessionId: 'new', firstSeen: '2026-01-05T00:00:00.000Z' })]);
      await s.upsertProfiles([profile({ id: 'pv', version: 5, lastSeen: '2026-01-02T00:00:00.000Z', lastSessionId: 'old', firstSeen: '2026-01-02T00:00:00.000Z' })]);
      const stored = await s.getProfile('pv');
      expect(stored).toMatchObject({ version: 10, lastSessionId: 'new', lastSeen: '2026-01-10T00:00:00.000Z', firstSeen: '2026-01-02T00:00:00.000Z' });
      await s.upsertProfiles([profile({ id: 'pv', version: 11, lastSessionId: 'newest', lastSeen: '2026-01-11T00:00:00.000Z' })]);
      expect(await s.getProfile('pv')).toMatchObject({ version: 11, lastSessionId: 'newest' });
      expect(await s.getProfile('missing')).toBeUndefined();
    });

    it('never lets an older session update overwrite a newer one', async () => {
      const s = await store();
      const session = { id: 'sv', profileId: 'p-new', sourceId: 'src', firstSeen: '2026-01-03T00:00:00.000Z', lastSeen: '2026-01-04T00:00:00.000Z', version: 4 };
      await s.upsertSessions([session]);
      await s.upsertSessions([{ ...session, profileId: 'p-old', version: 2, firstSeen: '2026-01-01T00:00:00.000Z' }]);
      expect(await s.getSession('sv')).toMatchObject({ profileId: 'p-new', version: 4, firstSeen: '2026-01-01T00:00:00.000Z' });
    });

    it('reports health, closes idempotently and then refuses writes with a retryable error', async () => {
      const s = await store();
      expect(await s.health()).toMatchObject({ ok: true, adapter: adapterName });
      await s.close();
      await s.close();
      await expect(s.writeEvents([sampleEvent()])).rejects.toMatchObject({ retryable: true });
    });
  });
}
