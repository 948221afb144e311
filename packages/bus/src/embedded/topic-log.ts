import { constants, writevSync } from 'node:fs';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AppendTimes } from './append-times.ts';
import { decodeRecord, HEADER_BYTES, type LogRecord } from './record.ts';

interface Segment {
  readonly baseOffset: number;
  readonly path: string;
  readonly handle: FileHandle;
  /** Bytes that are written and (with fsync) durable; readers never look past this. */
  size: number;
  /** Durable records in the segment. */
  count: number;
  /** Bytes written, durable or not yet (where the next write goes). */
  written: number;
}

/** A group that is written and waits for the fdatasync that makes it durable. */
interface WrittenGroup {
  readonly seq: number;
  readonly appends: readonly PendingAppend[];
  readonly segment: Segment;
  readonly bytes: number;
  readonly records: number;
  readonly firstOffset: number;
}

/** fdatasyncs in flight at once: one runs while the next groups are written. */
const MAX_SYNCS_IN_FLIGHT = 2;

/** Where a reader stands: the next offset and its byte position in its segment. */
export interface ReadCursor {
  readonly offset: number;
  readonly segmentBase: number;
  readonly bytePosition: number;
}

export interface LogEntry {
  readonly offset: number;
  readonly record: LogRecord;
}

export interface TopicLogOptions {
  /** A segment is closed once it holds at least this many bytes. */
  readonly segmentBytes: number;
  /** fdatasync each group commit before resolving it. */
  readonly fsync: boolean;
}

interface PendingAppend {
  readonly frames: readonly Buffer[];
  resolve(firstOffset: number): void;
  reject(error: unknown): void;
}

const SEGMENT_PATTERN = /^(\d{20})\.log$/;
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * One topic's append-only log: numbered records in segment files.
 *
 * Appends are group-committed and pipelined: appends queued within one turn of the event
 * loop go into one write (to the page cache, synchronous: no thread-pool hop), and
 * fdatasyncs run beside it in the thread pool, each covering every group written before
 * it started. So durability costs one sync per group, not per request, and the process
 * keeps serving while the disk syncs. An append resolves only once a sync that started
 * after its write has completed. A torn tail left by a crash is truncated at open.
 */
export class TopicLog {
  private readonly segments: Segment[] = [];
  private readonly pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private readonly appendListeners = new Set<() => void>();
  private closed = false;
  /** Offset the next record will get; everything below is durable. */
  private end = 0;
  /** Offset the next written record will get (written, maybe not durable yet). */
  private writtenEnd = 0;
  private readonly unsynced: WrittenGroup[] = [];
  private writtenSeq = 0;
  private syncsInFlight = 0;
  private syncWanted = false;
  private syncsIdle: (() => void) | undefined;
  /** When records were appended (sparse, in memory): the consumer lag gauge reads it. */
  private readonly appendTimes = new AppendTimes();

  private readonly dir: string;
  private readonly options: TopicLogOptions;

  private constructor(dir: string, options: TopicLogOptions) {
    this.dir = dir;
    this.options = options;
  }

  static async open(dir: string, options: TopicLogOptions): Promise<TopicLog> {
    await mkdir(dir, { recursive: true });
    const log = new TopicLog(dir, options);
    await log.recover();
    return log;
  }

  /** Offset of the oldest record still kept. */
  get startOffset(): number {
    return this.segments[0]?.baseOffset ?? this.end;
  }

  /** Offset the next record will get (= number of records ever appended). */
  get endOffset(): number {
    return this.end;
  }

  get stats(): { segments: number; bytes: number; startOffset: number; endOffset: number } {
    return { segments: this.segments.length, bytes: this.segments.reduce((sum, segment) => sum + segment.size, 0), startOffset: this.startOffset, endOffset: this.end };
  }

  /** Appends encoded frames; resolves with the first one's offset once they are durable. */
  append(frames: readonly Buffer[]): Promise<number> {
    if (this.closed) return Promise.reject(new Error('topic log is closed'));
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ frames, resolve, reject });
      this.flushing ??= this.flushLoop().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  /** When the record at `offset` was appended, ms since the epoch (see AppendTimes for the precision); undefined when unknown. */
  appendedAt(offset: number): number | undefined {
    return this.appendTimes.at(offset);
  }

  /** Calls `listener` after each durable append. Returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** A cursor positioned at `offset` (clamped to the kept range). */
  async seek(offset: number): Promise<ReadCursor> {
    const target = Math.max(offset, this.startOffset);
    const segment = this.segmentFor(target);
    if (segment === undefined) return { offset: this.end, segmentBase: this.end, bytePosition: 0 };
    let cursor: ReadCursor = { offset: segment.baseOffset, segmentBase: segment.baseOffset, bytePosition: 0 };
    while (cursor.offset < target) {
      const { next } = await this.read(cursor, Math.min(target - cursor.offset, 10_000));
      if (next.offset === cursor.offset) break;
      cursor = next;
    }
    return cursor;
  }

  /**
   * Reads up to `max` durable records from `cursor`; with `oneChunk`, stops after the first
   * file read (1 MB) that yielded records, so large records do not pile up in memory.
   */
  async read(cursor: ReadCursor, max: number, oneChunk = false): Promise<{ entries: LogEntry[]; next: ReadCursor }> {
    const entries: LogEntry[] = [];
    let position = cursor;
    while (entries.length < max && !(oneChunk && entries.length > 0)) {
      const segment = this.segments.find((candidate) => candidate.baseOffset === position.segmentBase) ?? this.segmentFor(position.offset);
      if (segment === undefined) break;
      if (segment.baseOffset !== position.segmentBase) position = { offset: segment.baseOffset, segmentBase: segment.baseOffset, bytePosition: 0 };
      if (position.bytePosition >= segment.size) {
        const following = this.segments[this.segments.indexOf(segment) + 1];
        if (following === undefined) break;
        position = { offset: following.baseOffset, segmentBase: following.baseOffset, bytePosition: 0 };
        continue;
      }
      position = await this.readChunk(segment, position, max - entries.length, entries);
    }
    return { entries, next: position };
  }

  /** Deletes whole segments whose every record is below `offset`. The active segment stays. */
  async deleteBelow(offset: number): Promise<number> {
    let deleted = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      if (oldest === undefined || oldest.baseOffset + oldest.count > offset) break;
      this.segments.shift();
      await oldest.handle.close();
      await rm(oldest.path, { force: true });
      deleted += 1;
    }
    if (deleted > 0) this.appendTimes.dropBelow(this.startOffset);
    return deleted;
  }

  /** Waits for queued appends, then closes every file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    await this.syncAll();
    for (const segment of this.segments.splice(0)) await segment.handle.close();
  }

  private segmentFor(offset: number): Segment | undefined {
    let found: Segment | undefined;
    for (const segment of this.segments) if (segment.baseOffset <= offset) found = segment;
    return found;
  }

  private async readChunk(segment: Segment, position: ReadCursor, max: number, into: LogEntry[]): Promise<ReadCursor> {
    const available = segment.size - position.bytePosition;
    let length = Math.min(available, READ_CHUNK_BYTES);
    let buffer = Buffer.allocUnsafe(length);
    await segment.handle.read(buffer, 0, length, position.bytePosition);
    let decoded = decodeRecord(buffer, 0);
    if (decoded.kind === 'incomplete' && length < available && length >= HEADER_BYTES) {
      length = Math.min(available, HEADER_BYTES + buffer.readUInt32BE(0));
      buffer = Buffer.allocUnsafe(length);
      await segment.handle.read(buffer, 0, length, position.bytePosition);
      decoded = decodeRecord(buffer, 0);
    }
    let at = 0;
    let offset = position.offset;
    // `max` counts this chunk's records: `into` may already hold records of earlier segments.
    const limit = into.length + max;
    while (decoded.kind === 'record' && into.length < limit) {
      into.push({ offset, record: decoded.record });
      offset += 1;
      at += decoded.frameLength;
      decoded = decodeRecord(buffer, at);
    }
    if (decoded.kind === 'corrupt') throw new Error(`corrupt record at ${segment.path}:${position.bytePosition + at} (${decoded.why})`);
    return { offset, segmentBase: segment.baseOffset, bytePosition: position.bytePosition + at };
  }

  private async flushLoop(): Promise<void> {
    // Let the rest of this event-loop turn queue its appends into the same group.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const appends = this.pending.splice(0);
      const frames = appends.flatMap((append) => append.frames);
      const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
      let segment: Segment | undefined;
      try {
        segment = await this.writableSegment();
        const bytesWritten = writevSync(segment.handle.fd, frames);
        if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
      } catch (error) {
        if (segment) await segment.handle.truncate(segment.written).catch(() => undefined);
        for (const append of appends) append.reject(error);
        continue;
      }
      segment.written += bytes;
      this.appendTimes.record(this.writtenEnd, Date.now());
      this.writtenSeq += 1;
      this.unsynced.push({ seq: this.writtenSeq, appends, segment, bytes, records: frames.length, firstOffset: this.writtenEnd });
      this.writtenEnd += frames.length;
      if (this.options.fsync) this.requestSync();
      else this.markDurable(this.writtenSeq);
    }
  }

  /** Starts an fdatasync covering everything written so far (at most MAX_SYNCS_IN_FLIGHT at once). */
  private requestSync(): void {
    const segment = this.unsynced.at(-1)?.segment;
    if (segment === undefined) return;
    if (this.syncsInFlight >= MAX_SYNCS_IN_FLIGHT) {
      this.syncWanted = true;
      return;
    }
    const upTo = this.writtenSeq;
    this.syncsInFlight += 1;
    void segment.handle.datasync().then(
      () => this.markDurable(upTo),
      (error: unknown) => this.markDurable(upTo, error),
    ).finally(() => {
      this.syncsInFlight -= 1;
      if (this.syncWanted) {
        this.syncWanted = false;
        this.requestSync();
      }
      if (this.syncsInFlight === 0) this.syncsIdle?.();
    });
  }

  /** Groups up to `upTo` are durable (or failed to sync: their appends reject, their bytes stay). */
  private markDurable(upTo: number, error?: unknown): void {
    let advanced = false;
    while (this.unsynced.length > 0 && (this.unsynced[0]?.seq ?? Infinity) <= upTo) {
      const group = this.unsynced.shift() as WrittenGroup;
      group.segment.size += group.bytes;
      group.segment.count += group.records;
      this.end += group.records;
      let offset = group.firstOffset;
      for (const append of group.appends) {
        if (error === undefined) append.resolve(offset);
        else append.reject(error);
        offset += append.frames.length;
      }
      advanced = true;
    }
    if (advanced) for (const listener of this.appendListeners) listener();
  }

  /** Waits until every written group is durable (before a segment rolls over, and at close). */
  private async syncAll(): Promise<void> {
    while (this.unsynced.length > 0) {
      if (this.syncsInFlight > 0) {
        await new Promise<void>((resolve) => (this.syncsIdle = resolve));
        this.syncsIdle = undefined;
      } else this.requestSync();
    }
  }

  private async writableSegment(): Promise<Segment> {
    const active = this.segments.at(-1);
    if (active !== undefined && active.written < this.options.segmentBytes) return active;
    if (active !== undefined && active.written === 0) return active;
    // Syncs cover one segment's handle: the old segment is made durable before the next opens.
    await this.syncAll();
    return this.createSegment(this.writtenEnd);
  }

  private async createSegment(baseOffset: number): Promise<Segment> {
    const path = join(this.dir, `${String(baseOffset).padStart(20, '0')}.log`);
    const handle = await open(path, this.writeFlags());
    const segment: Segment = { baseOffset, path, handle, size: 0, count: 0, written: 0 };
    this.segments.push(segment);
    return segment;
  }

  /** Append mode; durability comes from the pipelined fdatasyncs. */
  private writeFlags(): number {
    return constants.O_RDWR | constants.O_CREAT | constants.O_APPEND;
  }

  private async recover(): Promise<void> {
    const names = (await readdir(this.dir)).filter((name) => SEGMENT_PATTERN.test(name)).sort();
    for (const name of names) {
      const baseOffset = Number(SEGMENT_PATTERN.exec(name)?.[1]);
      const path = join(this.dir, name);
      const handle = await open(path, this.writeFlags());
      const { size, count } = await scanValidPrefix(handle);
      const { size: fileSize, mtimeMs } = await handle.stat();
      if (fileSize > size) await handle.truncate(size);
      // No time is stored per record: the segment's last write bounds its records' from above.
      if (count > 0) this.appendTimes.record(baseOffset, mtimeMs);
      this.segments.push({ baseOffset, path, handle, size, count, written: size });
      this.end = baseOffset + count;
      this.writtenEnd = this.end;
    }
  }
}

/** Length and record count of the valid prefix of a segment file. */
async function scanValidPrefix(handle: FileHandle): Promise<{ size: number; count: number }> {
  const { size: fileSize } = await handle.stat();
  const buffer = Buffer.allocUnsafe(fileSize);
  await handle.read(buffer, 0, fileSize, 0);
  let at = 0;
  let count = 0;
  for (;;) {
    const decoded = decodeRecord(buffer, at);
    if (decoded.kind !== 'record') break;
    at += decoded.frameLength;
    count += 1;
  }
  return { size: at, count };
}
