import { afterEach, describe, expect, it } from '@jest/globals';
import { LruProfileCache } from '@sluice/cache';
import { SqliteEventStore, type MergeListQuery, type ProfileMerges } from '@sluice/store';
import { waitFor } from '@sluice/testkit';
import { KnownMerges, type KnownMergesOptions } from '../src/known-merges.ts';
import { ProfileDirectory } from '../src/profile-directory.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const quiet = { warn: () => undefined, info: () => undefined };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

/**
 * A real store whose listing records every query, fails while `down.is`, leaves out the ids
 * in `unlisted` (a merge not listed yet), and states `listedWithin` as its delay.
 */
function observedStore() {
  const store = new SqliteEventStore({ path: ':memory:', retentionMs: 0 });
  closers.push(() => store.close());
  const down = { is: false };
  const unlisted = new Set<string>();
  const listed: MergeListQuery[] = [];
  const delay = { ms: 0 };
  const merges: Pick<ProfileMerges, 'listMerges' | 'mergesListedWithin'> = {
    mergesListedWithin: async () => delay.ms,
    listMerges: async (query) => {
      listed.push(query);
      if (down.is) throw new Error('connect ECONNREFUSED 127.0.0.1:9200');
      return (await store.listMerges(query)).filter((merge) => !unlisted.has(merge.from));
    },
  };
  /** Full reads begun: their first page asks from the start. */
  const fullReads = () => listed.filter((query) => query.since === undefined && query.after === undefined).length;
  return { store, down, unlisted, listed, delay, merges, fullReads };
}

function knownMerges(merges: Pick<ProfileMerges, 'listMerges' | 'mergesListedWithin'>, options: Partial<KnownMergesOptions> = {}) {
  const logged = { warn: [] as unknown[][], info: [] as unknown[][] };
  const known = new KnownMerges(merges, {
    pollMs: 20,
    overlapMs: 60_000,
    fullReadMs: 600_000,
    staleAfterMs: 30_000,
    cacheTtlMs: 3_600_000,
    pageSize: 2,
    logger: { warn: (...args: unknown[]) => logged.warn.push(args), info: (...args: unknown[]) => logged.info.push(args) },
    ...options,
  });
  closers.push(() => known.close());
  return { known, logged };
}

describe('KnownMerges', () => {
  it('says "never merged" only once it has read every merge, page by page, never for a merged profile, and wrongly "merged" for about 1 % when full', async () => {
    const { store, merges, listed } = observedStore();
    const ids = Array.from({ length: 1000 }, (_, n) => `m-${String(n).padStart(4, '0')}`);
    for (const from of ids) await store.recordMerge({ from, into: 'survivor', mergedAt: at(3_600_000) });
    const { known } = knownMerges(merges, { capacity: 1000, pageSize: 300 });
    expect(known.neverMerged('new-visitor')).toBe(false);
    known.start();
    await waitFor(() => known.neverMerged('new-visitor'), 5000);
    expect(ids.filter((id) => known.neverMerged(id))).toEqual([]);
    // 1,000 merges in pages of 300: four pages, each after the last of the one before.
    expect(listed.slice(0, 4).map((query) => query.after?.from)).toEqual([undefined, 'm-0299', 'm-0599', 'm-0899']);
    const visitors = Array.from({ length: 20_000 }, (_, n) => `visitor-${String(n)}`);
    const takenForMerged = visitors.filter((id) => !known.neverMerged(id)).length / visitors.length;
    expect(takenForMerged).toBeLessThan(0.02);
  });

  it('reads at the next poll a merge recorded later, one stamped by a clock half a minute behind too, but not one stamped beyond the overlap: that waits for the next full read', async () => {
    const { store, merges, listed } = observedStore();
    const { known } = knownMerges(merges);
    known.start();
    await waitFor(() => known.neverMerged('late'), 5000);
    await store.recordMerge({ from: 'late', into: 'survivor', mergedAt: at(0) });
    await store.recordMerge({ from: 'skewed', into: 'survivor', mergedAt: at(30_000) });
    await store.recordMerge({ from: 'far-behind', into: 'survivor', mergedAt: at(300_000) });
    await waitFor(() => !known.neverMerged('late') && !known.neverMerged('skewed'), 5000);
    const polls = listed.length;
    await waitFor(() => listed.length > polls + 3, 5000);
    expect(known.neverMerged('far-behind')).toBe(true);
    // Each poll reads from the overlap before the last read began.
    expect(Date.parse(listed.at(-1)!.since!)).toBeLessThan(Date.now() - 59_000);
  });

  it('reads every merge again each fullReadMs, so one listed later than the overlap allows is known within that', async () => {
    const { store, merges, unlisted, fullReads } = observedStore();
    const { known } = knownMerges(merges, { fullReadMs: 300 });
    known.start();
    await waitFor(() => known.neverMerged('restored'), 5000);
    unlisted.add('restored');
    await store.recordMerge({ from: 'restored', into: 'survivor', mergedAt: at(3_600_000) });
    const reads = fullReads();
    await waitFor(() => fullReads() > reads, 5000);
    expect(known.neverMerged('restored')).toBe(true);
    unlisted.delete('restored');
    await waitFor(() => !known.neverMerged('restored'), 5000);
  });

  it('knows a merge of its own at once, and still after a full read that does not list it yet', async () => {
    const { merges, unlisted, fullReads } = observedStore();
    const { known } = knownMerges(merges, { fullReadMs: 100 });
    known.start();
    await waitFor(() => known.neverMerged('mine'), 5000);
    unlisted.add('mine');
    known.add('mine');
    expect(known.neverMerged('mine')).toBe(false);
    const reads = fullReads();
    await waitFor(() => fullReads() > reads + 2, 5000);
    expect(known.neverMerged('mine')).toBe(false);
    expect(known.neverMerged('someone-else')).toBe(true);
  });

  it('stops trusting itself when the store cannot be read for staleAfterMs, warns once, and catches up on what it missed when the store answers', async () => {
    const { store, merges, down } = observedStore();
    const { known, logged } = knownMerges(merges, { staleAfterMs: 300 });
    known.start();
    await waitFor(() => known.neverMerged('during-outage'), 5000);
    down.is = true;
    await store.recordMerge({ from: 'during-outage', into: 'survivor', mergedAt: at(0) });
    await waitFor(() => logged.warn.length > 0, 5000);
    // Not read yet, and not trusted either: a lookup decides.
    await waitFor(() => !known.neverMerged('someone-else'), 5000);
    await pause(100);
    const ageInOutage = known.ageSeconds();
    expect(ageInOutage).toBeGreaterThan(0.3);
    expect(logged.warn).toHaveLength(1);
    expect(String(logged.warn[0]![1])).toMatch(/could not be read.*looked up in the store/);
    down.is = false;
    await waitFor(() => known.neverMerged('someone-else'), 5000);
    expect(known.neverMerged('during-outage')).toBe(false);
    expect(logged.info).toHaveLength(1);
    expect(known.ageSeconds()).toBeLessThan(ageInOutage);
  });

  it('grows a filter that fills into one sized for twice the merges it held, once', async () => {
    const { store, merges, fullReads } = observedStore();
    const ids = Array.from({ length: 12 }, (_, n) => `full-${String(n)}`);
    for (const from of ids) await store.recordMerge({ from, into: 'survivor', mergedAt: at(60_000) });
    const { known, logged } = knownMerges(merges, { capacity: 4 });
    known.start();
    // The first read overfills four; the second is sized for 24 and holds.
    await waitFor(() => fullReads() === 2 && known.neverMerged('x'), 5000);
    await pause(200);
    expect(fullReads()).toBe(2);
    expect(ids.filter((id) => known.neverMerged(id))).toEqual([]);
    expect(logged.warn).toEqual([]);
  });

  it('keeps no filter when the store lists no merge (Elasticsearch refreshes off), and says so once', async () => {
    const { merges, delay, listed } = observedStore();
    delay.ms = Number.POSITIVE_INFINITY;
    const { known, logged } = knownMerges(merges, { fullReadMs: 100 });
    known.start();
    await waitFor(() => logged.warn.length > 0, 5000);
    await pause(300);
    expect(known.neverMerged('anyone')).toBe(false);
    expect(listed).toEqual([]);
    expect(logged.warn).toHaveLength(1);
    expect(String(logged.warn[0]![0])).toMatch(/lists profile merges never/);
    delay.ms = 1000;
    await waitFor(() => known.neverMerged('anyone'), 5000);
  });

  it('keeps no filter when the store lists merges later than the cache keeps them (a refresh interval longer than KEEP_PROFILE_IN_CACHE_FOR allows)', async () => {
    const { merges, delay, listed } = observedStore();
    delay.ms = 30 * 60_000;
    const { known, logged } = knownMerges(merges, { fullReadMs: 100, cacheTtlMs: 20 * 60_000 });
    known.start();
    await waitFor(() => logged.warn.length > 0, 5000);
    await pause(300);
    expect(known.neverMerged('anyone')).toBe(false);
    expect(listed).toEqual([]);
    expect(String(logged.warn[0]![0])).toMatch(/1800 s after they are recorded.*too late for KEEP_PROFILE_IN_CACHE_FOR/);
    delay.ms = 1000;
    await waitFor(() => known.neverMerged('anyone'), 5000);
  });

  it('stops polling when closed', async () => {
    const { merges, listed } = observedStore();
    const { known } = knownMerges(merges);
    known.start();
    await waitFor(() => listed.length > 2, 5000);
    await known.close();
    const count = listed.length;
    await pause(100);
    expect(listed.length).toBe(count);
  });
});

describe('ProfileDirectory with KnownMerges', () => {
  it('resolves a profile known never merged without the store or a cache write, a merged one through the store, and asks the cache first', async () => {
    const { store, merges } = observedStore();
    await store.recordMerge({ from: 'old-anon', into: 'user-1', mergedAt: at(86_400_000) });
    const { known } = knownMerges(merges, { pollMs: 3_600_000 });
    known.start();
    await waitFor(() => known.neverMerged('new-visitor'), 5000);
    const cache = new LruProfileCache({ maxEntries: 100 });
    const outcomes: string[] = [];
    const directory = new ProfileDirectory(cache, store, { ttlSeconds: 60, lookupTimeoutMs: 1000, logger: quiet, knownMerges: known, onLookup: (_seconds, outcome) => outcomes.push(outcome) });
    expect(await directory.resolve('new-visitor')).toBe('new-visitor');
    expect(await cache.get('profile:new-visitor')).toBeUndefined();
    expect(await directory.resolve('old-anon')).toBe('user-1');
    expect(outcomes).toEqual(['merged']);
    // Merged through another replica (same cache, its own filter) after this one's only read:
    // this filter does not hold it, the cache entry that merge wrote answers.
    const other = new ProfileDirectory(cache, store, { ttlSeconds: 60, lookupTimeoutMs: 1000, logger: quiet });
    await other.merge('new-visitor', 'user-1');
    expect(known.neverMerged('new-visitor')).toBe(true);
    expect(await directory.resolve('new-visitor')).toBe('user-1');
    // Merged through this one, then dropped from the cache: the filter holds it, the store answers.
    await directory.merge('visitor-2', 'user-1');
    await cache.delete('profile:visitor-2');
    expect(await directory.resolve('visitor-2')).toBe('user-1');
    expect(outcomes).toEqual(['merged', 'merged']);
  });
});
