import { afterEach, describe, expect, it } from '@jest/globals';
import { LruProfileCache } from '@sluice/cache';
import { SqliteEventStore, type MergeListQuery } from '@sluice/store';
import { waitFor } from '@sluice/testkit';
import { KnownMerges, type KnownMergesOptions } from '../src/known-merges.ts';
import { ProfileDirectory } from '../src/profile-directory.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Logged {
  readonly warn: unknown[][];
  readonly info: unknown[][];
}

/** A real store, and its listing made to fail while `down.is` is true (as Elasticsearch down would). */
function storeWithOutage(): { store: SqliteEventStore; down: { is: boolean }; listed: MergeListQuery[]; merges: ConstructorParameters<typeof KnownMerges>[0] } {
  const store = new SqliteEventStore({ path: ':memory:', retentionMs: 0 });
  closers.push(() => store.close());
  const down = { is: false };
  const listed: MergeListQuery[] = [];
  const merges = {
    mergesListedWithinMs: 0,
    listMerges: async (query: MergeListQuery) => {
      listed.push(query);
      if (down.is) throw new Error('connect ECONNREFUSED 127.0.0.1:9200');
      return store.listMerges(query);
    },
  };
  return { store, down, listed, merges };
}

function knownMerges(merges: ConstructorParameters<typeof KnownMerges>[0], options: Partial<KnownMergesOptions> = {}): { known: KnownMerges; logged: Logged; ages: number[] } {
  const logged: Logged = { warn: [], info: [] };
  const ages: number[] = [];
  const known = new KnownMerges(merges, {
    pollMs: 20,
    overlapMs: 60_000,
    staleAfterMs: 30_000,
    pageSize: 2,
    logger: { warn: (...args: unknown[]) => logged.warn.push(args), info: (...args: unknown[]) => logged.info.push(args) },
    onAge: (seconds) => ages.push(seconds),
    ...options,
  });
  closers.push(() => known.close());
  return { known, logged, ages };
}

const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

describe('KnownMerges', () => {
  it('says "never merged" only once it has read every merge, page by page, and never for a merged profile', async () => {
    const { store, merges, listed } = storeWithOutage();
    for (const from of ['m-1', 'm-2', 'm-3', 'm-4', 'm-5']) await store.recordMerge({ from, into: 'survivor', mergedAt: at(3_600_000) });
    const { known, ages } = knownMerges(merges);
    expect(known.neverMerged('new-visitor')).toBe(false);
    known.start();
    await waitFor(() => known.neverMerged('new-visitor'), 5000);
    for (const from of ['m-1', 'm-2', 'm-3', 'm-4', 'm-5']) expect(known.neverMerged(from)).toBe(false);
    // Five merges in pages of two: three pages, each after the last of the one before.
    expect(listed.slice(0, 3)).toEqual([{ limit: 2 }, { limit: 2, after: expect.objectContaining({ from: 'm-2' }) }, { limit: 2, after: expect.objectContaining({ from: 'm-4' }) }]);
    // About 1 % of never-merged profiles are taken for merged (each then looked up, as without the filter).
    const visitors = Array.from({ length: 10_000 }, (_, n) => `visitor-${String(n)}`);
    expect(visitors.filter((id) => !known.neverMerged(id)).length).toBeLessThan(300);
    expect(ages.at(-1)).toBeLessThan(1);
  });

  it('reads merges recorded later at the next poll, including one stamped by a clock half a minute behind, and knows its own at once', async () => {
    const { store, merges, listed } = storeWithOutage();
    const { known } = knownMerges(merges);
    known.start();
    await waitFor(() => known.neverMerged('late'), 5000);
    await store.recordMerge({ from: 'late', into: 'survivor', mergedAt: at(0) });
    await store.recordMerge({ from: 'skewed', into: 'survivor', mergedAt: at(30_000) });
    await waitFor(() => !known.neverMerged('late') && !known.neverMerged('skewed'), 5000);
    // Each poll reads from the overlap before the last read began.
    const polls = listed.filter((query) => query.since !== undefined);
    expect(Date.parse(polls.at(-1)!.since!)).toBeLessThan(Date.now() - 59_000);
    expect(known.neverMerged('mine')).toBe(true);
    known.add('mine');
    expect(known.neverMerged('mine')).toBe(false);
  });

  it('stops trusting itself when the store cannot be read for staleAfterMs, warns once, and catches up on what it missed when the store answers', async () => {
    const { store, merges, down } = storeWithOutage();
    const { known, logged, ages } = knownMerges(merges, { staleAfterMs: 300 });
    known.start();
    await waitFor(() => known.neverMerged('during-outage'), 5000);
    down.is = true;
    await store.recordMerge({ from: 'during-outage', into: 'survivor', mergedAt: at(0) });
    await waitFor(() => logged.warn.length > 0, 5000);
    // Not read yet, and not trusted either: a lookup decides.
    await waitFor(() => !known.neverMerged('someone-else'), 5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ages.at(-1)).toBeGreaterThan(0.3);
    expect(logged.warn).toHaveLength(1);
    expect(String(logged.warn[0]![1])).toMatch(/could not be read.*looked up in the store/);
    down.is = false;
    await waitFor(() => known.neverMerged('someone-else'), 5000);
    expect(known.neverMerged('during-outage')).toBe(false);
    expect(logged.info).toHaveLength(1);
  });

  it('rebuilds a fuller filter four times larger and keeps every merge', async () => {
    const { store, merges, listed } = storeWithOutage();
    const { known } = knownMerges(merges, { capacity: 4 });
    known.start();
    await waitFor(() => known.neverMerged('x'), 5000);
    const ids = Array.from({ length: 12 }, (_, n) => `full-${String(n)}`);
    for (const from of ids) await store.recordMerge({ from, into: 'survivor', mergedAt: at(0) });
    await waitFor(() => ids.every((id) => !known.neverMerged(id)), 5000);
    // The first read, then one into the larger filter once twelve merges overfilled four.
    await waitFor(() => listed.filter((query) => query.since === undefined && query.after === undefined).length === 2, 5000);
    expect(ids.every((id) => !known.neverMerged(id))).toBe(true);
    expect(known.neverMerged('x')).toBe(true);
  });

  it('stops polling when closed', async () => {
    const { merges, listed } = storeWithOutage();
    const { known } = knownMerges(merges);
    known.start();
    await waitFor(() => listed.length > 2, 5000);
    await known.close();
    const count = listed.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(listed.length).toBe(count);
  });
});

describe('ProfileDirectory with KnownMerges', () => {
  it('resolves a profile known never merged without the store or a cache write, and a merged one through the store', async () => {
    const { store, merges } = storeWithOutage();
    await store.recordMerge({ from: 'old-anon', into: 'user-1', mergedAt: at(86_400_000) });
    const { known } = knownMerges(merges);
    known.start();
    await waitFor(() => known.neverMerged('new-visitor'), 5000);
    const cache = new LruProfileCache({ maxEntries: 100 });
    const outcomes: string[] = [];
    const directory = new ProfileDirectory(cache, store, { ttlSeconds: 60, lookupTimeoutMs: 1000, logger: { warn: () => undefined, info: () => undefined }, knownMerges: known, onLookup: (_seconds, outcome) => outcomes.push(outcome) });
    expect(await directory.resolve('new-visitor')).toBe('new-visitor');
    expect(await cache.get('profile:new-visitor')).toBeUndefined();
    expect(await directory.resolve('old-anon')).toBe('user-1');
    expect(outcomes).toEqual(['merged']);
    // Merged through this directory, then dropped from the cache: the filter holds it, the store answers.
    await directory.merge('new-visitor', 'user-1');
    await cache.delete('profile:new-visitor');
    expect(await directory.resolve('new-visitor')).toBe('user-1');
  });
});
