/** At most one sample per this many milliseconds while appends keep coming. */
const SAMPLE_EVERY_MS = 10;
/** Most samples kept; past it every other old sample is dropped (coarser, still bounded). */
const MAX_SAMPLES = 65_536;

/**
 * When the records of one topic log were appended, in memory and sparse: a sample (first
 * offset of a group commit, wall-clock ms) at most every SAMPLE_EVERY_MS. A record's time
 * is that of the last sample at or below its offset, so it reads at most one sample gap
 * early — about 10 ms while the log's unconsumed part is short; coarser once MAX_SAMPLES
 * (about 1 MB) would be exceeded by a long backlog, when every other sample is dropped.
 *
 * Records appended before this process opened the log get their segment file's last
 * modification time: an upper bound, so their age reads low (never high) until they are
 * consumed. The on-disk format carries no time, and adding one is not worth a format change
 * for a metric.
 */
export class AppendTimes {
  private offsets: number[] = [];
  private times: number[] = [];

  /** Records that the records from `firstOffset` on were appended at `atMs` (offsets and times ascending). */
  record(firstOffset: number, atMs: number): void {
    const lastTime = this.times.at(-1);
    if (lastTime !== undefined && atMs - lastTime < SAMPLE_EVERY_MS) return;
    this.offsets.push(firstOffset);
    this.times.push(Math.max(atMs, lastTime ?? atMs));
    if (this.offsets.length > MAX_SAMPLES) this.thin();
  }

  /** When the record at `offset` was appended (ms since the epoch), or undefined before the first sample. */
  at(offset: number): number | undefined {
    let low = 0;
    let high = this.offsets.length - 1;
    let found: number | undefined;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if ((this.offsets[middle] as number) <= offset) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found === undefined ? undefined : this.times[found];
  }

  /** Forgets samples only records below `offset` need (deleted segments). */
  dropBelow(offset: number): void {
    let keepFrom = 0;
    while (keepFrom + 1 < this.offsets.length && (this.offsets[keepFrom + 1] as number) <= offset) keepFrom += 1;
    if (keepFrom === 0) return;
    this.offsets = this.offsets.slice(keepFrom);
    this.times = this.times.slice(keepFrom);
  }

  get size(): number {
    return this.offsets.length;
  }

  /** Keeps every other sample, and always the newest. */
  private thin(): void {
    const last = this.offsets.length - 1;
    const keep = (_: number, index: number) => index % 2 === 0 || index === last;
    this.offsets = this.offsets.filter(keep);
    this.times = this.times.filter(keep);
  }
}
