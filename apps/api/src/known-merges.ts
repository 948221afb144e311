import { setImmediate as yieldToEvents, setTimeout as sleep } from 'node:timers/promises';
import { BloomFilter } from 'bloomfilter';
import type { Logger } from '@sluice/observability';
import type { ProfileMerge, ProfileMerges } from '@sluice/store';

export interface KnownMergesOptions {
  /** How often the store is asked for the merges stamped since the last read, ms. */
  readonly pollMs: number;
  /**
   * How far before its last read each poll starts, ms, on top of the store's own listing
   * delay (`mergesListedWithin`): covers replicas' clocks apart (a merge is stamped with its
   * recording replica's clock) and the time a merge takes to be written.
   */
  readonly overlapMs: number;
  /**
   * How often every merge is read again into a new filter, ms: the bound on how long a merge
   * listed later than the overlap allows (a write that hung, a restored index) stays unknown
   * here. The cache entry the merge wrote answers meanwhile, so it must be shorter than
   * KEEP_PROFILE_IN_CACHE_FOR.
   */
  readonly fullReadMs: number;
  /** Longest since the last complete read for the filter to be trusted, ms; after that every profile the cache does not know is looked up again. */
  readonly staleAfterMs: number;
  /** Merges asked for per page. */
  readonly pageSize: number;
  /**
   * KEEP_PROFILE_IN_CACHE_FOR, ms: a merge's cache entry must outlive the longest the merge may
   * stay out of the filter (the store's listing delay, a full read, the staleness bound and
   * the overlap); a store that lists merges later than that gets no filter.
   */
  readonly cacheTtlMs: number;
  /** Merged profiles the first filter is sized for (default 1,000,000: 1.2 MB). */
  readonly capacity?: number;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
}

/** Share of never-merged profiles a full filter takes for merged (each then costs a store lookup, as before the filter). */
const FALSE_POSITIVES = 0.01;
const DEFAULT_CAPACITY = 1_000_000;
/** Largest filter: `bloomfilter` takes at most 2³² bits (≈ 448 M ids at FALSE_POSITIVES); beyond, the filter fills and its false positives rise. */
const MAX_CAPACITY = 400_000_000;

/** A Bloom filter of merged profile ids sized for `capacity` at FALSE_POSITIVES, counting the ids it did not hold. */
class MergedIds {
  readonly capacity: number;
  private readonly bloom: BloomFilter;
  count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    const bits = Math.ceil((-capacity * Math.log(FALSE_POSITIVES)) / Math.LN2 ** 2);
    this.bloom = new BloomFilter(bits, Math.max(1, Math.round((bits / capacity) * Math.LN2)));
  }

  add(id: string): void {
    if (this.bloom.test(id)) return;
    this.bloom.add(id);
    this.count += 1;
  }

  mayHold(id: string): boolean {
    return this.bloom.test(id);
  }

  get full(): boolean {
    return this.count > this.capacity && this.capacity < MAX_CAPACITY;
  }
}

/**
 * Which profiles this replica knows were never merged, so a profile the cache does not know
 * costs no store lookup. It holds every merged profile id the store lists, in a Bloom filter
 * (no false "never merged"; about 1 % of never-merged profiles still looked up): read in full
 * at start and every `fullReadMs`, and polled between: a poll lists the merges stamped since
 * the last read began, less the overlap and the store's listing delay, so a merge stamped on
 * a clock behind or listed late is still read. A merge this replica records is added at once
 * (and into every filter built within `fullReadMs` of it); one recorded elsewhere reaches the
 * filter within a poll, the listing delay and the overlap — or, listed later than that, at
 * the next full read — and until then the cache entry the merge wrote answers.
 *
 * Until the first read completes, and whenever the last complete read began more than
 * `staleAfterMs` ago (the store not answering, or a long full read), `neverMerged` says
 * false: lookups as without the filter. So does a store whose merges are never listed
 * (Elasticsearch refreshes off). Merges backed out stay in the filter (a lookup each).
 */
export class KnownMerges {
  private readonly merges: Pick<ProfileMerges, 'listMerges' | 'mergesListedWithin'>;
  private readonly options: KnownMergesOptions;
  private filter: MergedIds | undefined;
  /** A filter being read in full while the current one serves. */
  private building: MergedIds | undefined;
  /** Merges this replica recorded, with when (performance.now()), kept for `fullReadMs` plus the window: each new filter takes them. */
  private readonly recent = new Map<string, number>();
  /** The store's listing delay, as read at the last full read, ms. */
  private listedWithinMs = Number.POSITIVE_INFINITY;
  /** When the last complete read began, on this replica's clock (ms since the epoch): every merge listed then is in the filter. */
  private readAt = 0;
  /** The same moment on the monotonic clock (performance.now()), for staleness. */
  private readAtMono = Number.NEGATIVE_INFINITY;
  /** When the last full read began (performance.now()). */
  private fullReadAt = Number.NEGATIVE_INFINITY;
  private startedAt = 0;
  private failing = false;
  /** The store said it lists no merge (at the last full read): no filter until the next full read says otherwise. */
  private unlisted = false;
  /** Merges the last complete full read listed (ids are unique in the store). */
  private listedRows = 0;
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(merges: Pick<ProfileMerges, 'listMerges' | 'mergesListedWithin'>, options: KnownMergesOptions) {
    this.merges = merges;
    this.options = options;
  }

  /** Begins reading the merges, then polling; returns at once. */
  start(): void {
    this.startedAt = performance.now();
    this.loop ??= this.run();
  }

  /** Stops polling; waits at most a second for a read under way (its answer is then dropped). */
  async close(): Promise<void> {
    this.stopped.abort();
    await Promise.race([this.loop, sleep(1000, undefined, { ref: false })]);
  }

  /** True only when `id` was never merged, as far as the store listed within `staleAfterMs` and this replica recorded. */
  neverMerged(id: string): boolean {
    return this.filter !== undefined && performance.now() - this.readAtMono <= this.options.staleAfterMs && !this.filter.mayHold(id);
  }

  /** A merge of `id` this replica is about to record: known here at once. */
  add(id: string): void {
    this.recent.delete(id);
    this.recent.set(id, performance.now());
    this.filter?.add(id);
    this.building?.add(id);
  }

  /** Seconds since the last complete read began (before the first, since `start`): above `staleAfterMs` the filter is not trusted. */
  ageSeconds(): number {
    return (performance.now() - (this.filter === undefined ? this.startedAt : this.readAtMono)) / 1000;
  }

  private async run(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      try {
        await this.tick();
        if (this.failing) this.options.logger.info('profile merges are read again: profiles known never merged cost no store lookup');
        this.failing = false;
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        if (!this.failing) this.options.logger.warn({ err: error }, `the profile merges could not be read: from ${String(this.options.staleAfterMs / 1000)} s after the last read, every profile the cache does not know of is looked up in the store`);
        this.failing = true;
      }
      await sleep(this.options.pollMs, undefined, { signal: this.stopped.signal, ref: false }).catch(() => undefined);
    }
  }

  /** One read: in full at start, every `fullReadMs` and when the filter is full; else the merges since the last read. */
  private async tick(): Promise<void> {
    const now = performance.now();
    for (const [id, at] of this.recent) {
      if (now - at <= this.options.fullReadMs + this.options.overlapMs + (Number.isFinite(this.listedWithinMs) ? this.listedWithinMs : 0)) break;
      this.recent.delete(id);
    }
    if (this.unlisted && now - this.fullReadAt < this.options.fullReadMs) return;
    const current = this.filter;
    if (current === undefined || current.full || now - this.fullReadAt >= this.options.fullReadMs) {
      await this.readAll(current);
      return;
    }
    const startedAt = Date.now();
    const startedMono = performance.now();
    await this.read(current, this.readAt - this.windowMs());
    this.readAt = startedAt;
    this.readAtMono = startedMono;
  }

  /** Every merge, into a new filter sized for twice what the last one held, then the merges listed meanwhile and this replica's recent ones. */
  private async readAll(current: MergedIds | undefined): Promise<void> {
    const startedAt = Date.now();
    const startedMono = performance.now();
    this.listedWithinMs = await this.merges.mergesListedWithin();
    if (this.listedWithinMs + this.options.fullReadMs + this.options.staleAfterMs + this.options.overlapMs > this.options.cacheTtlMs) {
      // Listed never, or later than the cache keeps a merge: the filter would miss merges.
      if (!this.unlisted) this.options.logger.warn(`the store lists profile merges ${Number.isFinite(this.listedWithinMs) ? `${String(this.listedWithinMs / 1000)} s after they are recorded (Elasticsearch: the merges index's refresh interval), too late for KEEP_PROFILE_IN_CACHE_FOR` : 'never (Elasticsearch: the merges index is not refreshed)'}: every profile the cache does not know of is looked up in the store`);
      this.unlisted = true;
      this.filter = undefined;
      this.fullReadAt = startedMono;
      return;
    }
    this.unlisted = false;
    // Sized from the rows the last full read listed: a saturated filter undercounts the ids it holds.
    const next = new MergedIds(Math.min(MAX_CAPACITY, Math.max(this.options.capacity ?? DEFAULT_CAPACITY, 2 * this.listedRows, 2 * (current?.count ?? 0))));
    this.building = next;
    try {
      const rows = await this.read(next, undefined);
      // Merges listed while the full read went by: as a poll from its start would read them.
      const caughtUpAt = Date.now();
      const caughtUpMono = performance.now();
      await this.read(next, startedAt - this.windowMs());
      for (const id of this.recent.keys()) next.add(id);
      this.filter = next;
      this.readAt = caughtUpAt;
      this.readAtMono = caughtUpMono;
      this.fullReadAt = startedMono;
      this.listedRows = rows;
    } finally {
      this.building = undefined;
    }
  }

  private windowMs(): number {
    return this.options.overlapMs + this.listedWithinMs;
  }

  /** Adds every merge listed stamped at `sinceMs` or later (all when undefined), page by page, letting requests run between pages; returns how many were listed. */
  private async read(into: MergedIds, sinceMs: number | undefined): Promise<number> {
    const since = sinceMs === undefined ? undefined : new Date(sinceMs).toISOString();
    let after: ProfileMerge | undefined;
    let rows = 0;
    for (;;) {
      this.stopped.signal.throwIfAborted();
      const page = await this.merges.listMerges({ ...(since === undefined ? {} : { since }), ...(after === undefined ? {} : { after }), limit: this.options.pageSize });
      for (const merge of page) into.add(merge.from);
      rows += page.length;
      if (page.length < this.options.pageSize) return rows;
      after = page.at(-1);
      await yieldToEvents();
    }
  }
}
