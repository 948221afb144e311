import { setTimeout as sleep } from 'node:timers/promises';
import { BloomFilter } from 'bloomfilter';
import type { Logger } from '@sluice/observability';
import type { ProfileMerge, ProfileMerges } from '@sluice/store';

export interface KnownMergesOptions {
  /** How often the store is asked for the merges recorded since the last read, ms. */
  readonly pollMs: number;
  /**
   * How far before its last read each read starts, ms, on top of the store's own listing
   * delay (`mergesListedWithinMs`): covers replicas' clocks apart (a merge is stamped with
   * its recording replica's clock) and the time a merge takes to be written.
   */
  readonly overlapMs: number;
  /** Longest since the last complete read for the filter to be trusted, ms; after that every profile the cache does not know is looked up again. */
  readonly staleAfterMs: number;
  /** Merges asked for per page. */
  readonly pageSize: number;
  /** Merged profiles the first filter is sized for (default 1,000,000: 1.2 MB); one that fills is rebuilt four times larger. */
  readonly capacity?: number;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
  /** Told after each read, done or failed: seconds since the last complete read began (before the first, since `start`). */
  readonly onAge?: (seconds: number) => void;
}

/** Share of never-merged profiles the filter takes for merged (each then costs a store lookup, as before the filter). */
const FALSE_POSITIVES = 0.01;
const DEFAULT_CAPACITY = 1_000_000;

/** A Bloom filter of merged profile ids sized for `capacity` at FALSE_POSITIVES, counting the ids it did not hold. */
class MergedIds {
  readonly capacity: number;
  private readonly bloom: BloomFilter;
  count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    const bits = Math.ceil((-capacity * Math.log(FALSE_POSITIVES)) / Math.LN2 ** 2);
    this.bloom = new BloomFilter(bits, Math.round((bits / capacity) * Math.LN2));
  }

  add(id: string): void {
    if (this.bloom.test(id)) return;
    this.bloom.add(id);
    this.count += 1;
  }

  mayHold(id: string): boolean {
    return this.bloom.test(id);
  }
}

/**
 * Which profiles this replica knows were never merged, so a profile the cache does not know
 * costs no store lookup. It holds every merged profile id the store lists, in a Bloom filter
 * (no false "never merged"; about 1 % of never-merged profiles still looked up), read in full
 * at start and then polled: each read lists the merges stamped since the last read began,
 * less the overlap and the store's listing delay, so a merge stamped on a clock behind or
 * listed late is still read. A merge this replica records is added at once; one recorded
 * elsewhere reaches the filter within a poll, the listing delay and the overlap, and until
 * then the shared cache holds it (the merging replica writes it there).
 *
 * Until the first read completes, and whenever the last complete read began more than
 * `staleAfterMs` ago (the store not answering), `neverMerged` says false: lookups as without
 * the filter. Merges backed out stay in the filter (a lookup each, as before).
 */
export class KnownMerges {
  private readonly merges: Pick<ProfileMerges, 'listMerges' | 'mergesListedWithinMs'>;
  private readonly options: KnownMergesOptions;
  private filter: MergedIds | undefined;
  /** A larger filter being read while the current one serves. */
  private building: MergedIds | undefined;
  /** When the last complete read began (ms since the epoch, this replica's clock): every merge listed then is in the filter. */
  private readAt = 0;
  private failing = false;
  /** When polling began (ms since the epoch). */
  private startedAt = 0;
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(merges: Pick<ProfileMerges, 'listMerges' | 'mergesListedWithinMs'>, options: KnownMergesOptions) {
    this.merges = merges;
    this.options = options;
  }

  /** Begins reading the merges, then polling; returns at once. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops polling; resolves once a read under way has ended. */
  async close(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  /** True only when `id` was never merged, as far as the store listed within `staleAfterMs` and this replica recorded. */
  neverMerged(id: string): boolean {
    return this.filter !== undefined && Date.now() - this.readAt <= this.options.staleAfterMs && !this.filter.mayHold(id);
  }

  /** A merge of `id` this replica is about to record: known here at once. */
  add(id: string): void {
    this.filter?.add(id);
    this.building?.add(id);
  }

  private async run(): Promise<void> {
    this.startedAt = Date.now();
    while (!this.stopped.signal.aborted) {
      try {
        await this.tick();
        if (this.failing) this.options.logger.info('profile merges are read again');
        this.failing = false;
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        if (!this.failing) this.options.logger.warn({ err: error }, `the profile merges could not be read: once the last read is ${String(this.options.staleAfterMs / 1000)} s old, every profile the cache does not know of is looked up in the store until they are`);
        this.failing = true;
      }
      this.options.onAge?.((Date.now() - (this.readAt || this.startedAt)) / 1000);
      await sleep(this.options.pollMs, undefined, { signal: this.stopped.signal, ref: false }).catch(() => undefined);
    }
  }

  /** One read: in full the first time and when the filter is full (into a larger one), else the merges since the last read. */
  private async tick(): Promise<void> {
    const startedAt = Date.now();
    const window = this.options.overlapMs + this.merges.mergesListedWithinMs;
    const current = this.filter;
    if (current !== undefined && current.count <= current.capacity) {
      await this.read(current, this.readAt - window);
      this.readAt = startedAt;
      return;
    }
    const next = new MergedIds(current === undefined ? (this.options.capacity ?? DEFAULT_CAPACITY) : current.capacity * 4);
    this.building = next;
    try {
      await this.read(next, undefined);
      // Merges listed while the full read went by: as a poll from its start would read them.
      const caughtUpAt = Date.now();
      await this.read(next, startedAt - window);
      this.filter = next;
      this.readAt = caughtUpAt;
    } finally {
      this.building = undefined;
    }
  }

  /** Adds every merge listed stamped at `sinceMs` or later (all when undefined), page by page. */
  private async read(into: MergedIds, sinceMs: number | undefined): Promise<void> {
    const since = sinceMs === undefined ? undefined : new Date(sinceMs).toISOString();
    let after: ProfileMerge | undefined;
    for (;;) {
      this.stopped.signal.throwIfAborted();
      const page = await this.merges.listMerges({ ...(since === undefined ? {} : { since }), ...(after === undefined ? {} : { after }), limit: this.options.pageSize });
      for (const merge of page) into.add(merge.from);
      if (page.length < this.options.pageSize) return;
      after = page.at(-1);
    }
  }
}
