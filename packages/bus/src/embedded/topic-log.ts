import { constants } from 'node:fs';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRecord, HEADER_BYTES, type LogRecord } from './record.ts';

interface Segment {
  readonly baseOffset: number;
  readonly path: string;
  readonly handle: FileHandle;
  /** Bytes that are written and (with fsync) durable; readers never look past this. */
  size: number;
  /** Records in the segment. */
  count: number;
}

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
 * Appends are group-committed: everything queued while one write+fdatasync runs goes
 * into the next single write+fdatasync, so durability costs one sync per group, not per
 * request. A torn tail left by a crash is truncated at open.
 */
export class TopicLog {
  private readonly segments: Segment[] = [];
  private readonly pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private readonly appendListeners = new Set<() => void>();
  private closed = false;
  /** Offset the next record will get; everything below is durable. */
  private end = 0;

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

  /** Reads up to `max` durable records from `cursor`. */
  async read(cursor: ReadCursor, max: number): Promise<{ entries: LogEntry[]; next: ReadCursor }> {
    const entries: LogEntry[] = [];
    let position = cursor;
    while (entries.length < max) {
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
    return deleted;
  }

  /** Waits for queued appends, then closes every file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
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
    while (decoded.kind === 'record' && into.length < max) {
      into.push({ offset, record: decoded.record });
      offset += 1;
      at += decoded.frameLength;
      decoded = decodeRecord(buffer, at);
    }
    if (decoded.kind === 'corrupt') throw new Error(`corrupt record at ${segment.path}:${position.bytePosition + at} (${decoded.why})`);
    return { offset, segmentBase: segment.baseOffset, bytePosition: position.bytePosition + at };
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending.splice(0);
      try {
        const first = await this.writeGroup(group.flatMap((append) => append.frames));
        let offset = first;
        for (const append of group) {
          append.resolve(offset);
          offset += append.frames.length;
        }
        for (const listener of this.appendListeners) listener();
      } catch (error) {
        for (const append of group) append.reject(error);
      }
    }
  }

  private async writeGroup(frames: Buffer[]): Promise<number> {
    const segment = await this.writableSegment();
    const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
    try {
      const { bytesWritten } = await segment.handle.writev(frames, segment.size);
      if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
    } catch (error) {
      await segment.handle.truncate(segment.size).catch(() => undefined);
      throw error;
    }
    const first = this.end;
    segment.size += bytes;
    segment.count += frames.length;
    this.end += frames.length;
    return first;
  }

  private async writableSegment(): Promise<Segment> {
    const active = this.segments.at(-1);
    if (active !== undefined && active.size < this.options.segmentBytes) return active;
    if (active !== undefined && active.count === 0) return active;
    return this.createSegment(this.end);
  }

  private async createSegment(baseOffset: number): Promise<Segment> {
    const path = join(this.dir, `${String(baseOffset).padStart(20, '0')}.log`);
    const handle = await open(path, this.writeFlags());
    const segment: Segment = { baseOffset, path, handle, size: 0, count: 0 };
    this.segments.push(segment);
    return segment;
  }

  /**
   * Append mode; with `fsync`, O_DSYNC makes each group's single write return only once
   * the data is on disk (write + fdatasync in one system call, one thread-pool hop).
   */
  private writeFlags(): number {
    return constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | (this.options.fsync ? constants.O_DSYNC : 0);
  }

  private async recover(): Promise<void> {
    const names = (await readdir(this.dir)).filter((name) => SEGMENT_PATTERN.test(name)).sort();
    for (const name of names) {
      const baseOffset = Number(SEGMENT_PATTERN.exec(name)?.[1]);
      const path = join(this.dir, name);
      const handle = await open(path, this.writeFlags());
      const { size, count } = await scanValidPrefix(handle);
      const { size: fileSize } = await handle.stat();
      if (fileSize > size) await handle.truncate(size);
      this.segments.push({ baseOffset, path, handle, size, count });
      this.end = baseOffset + count;
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
