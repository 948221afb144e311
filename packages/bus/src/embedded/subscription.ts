import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ConsumerOptions, DeliveryFailure, ReceivedMessage } from '../port.ts';
import type { LogEntry, ReadCursor, TopicLog } from './topic-log.ts';

/** What the subscription persists: all offsets below `committed` are acked, plus `acked` ranges above. */
interface CursorFile {
  committed: number;
  acked: [number, number][];
}

interface Delivery {
  readonly entry: LogEntry;
  /** Deliveries so far, this one included. */
  deliveries: number;
  holder: number | undefined;
  readyAt: number;
}

export type DeadLetterSink = (entry: LogEntry, failure: DeliveryFailure, deliveries: number) => Promise<void>;

const CHECKPOINT_DELAY_MS = 100;
/** Most records read from the log at once (and no more than one 1 MB read chunk holds). */
const READ_AHEAD_RECORDS = 256;

/**
 * A shared subscription on one topic log: the acknowledgement state (persisted to a cursor
 * file), the messages in flight, and the nacked ones waiting for redelivery.
 * Memory is bounded: in-flight plus waiting messages never exceed `capacity`.
 */
export class Subscription {
  private committed = 0;
  private readonly ackedAbove = new Set<number>();
  private readCursor: ReadCursor | undefined;
  /** Records read past the cursor but not handed out yet, from `readAheadAt` on. */
  private readAhead: LogEntry[] = [];
  private readAheadAt = 0;
  private readonly inFlight = new Map<number, Delivery>();
  private readonly waiting: Delivery[] = [];
  private readonly wakers = new Set<() => void>();
  private readLock: Promise<unknown> = Promise.resolve();
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> = Promise.resolve();
  private dirty = false;
  private readonly unsubscribe: () => void;
  private capacity = 0;
  private nextConsumerId = 1;

  private readonly log: TopicLog;
  private readonly cursorPath: string;
  private readonly deadLetter: DeadLetterSink;

  constructor(log: TopicLog, cursorPath: string, deadLetter: DeadLetterSink) {
    this.log = log;
    this.cursorPath = cursorPath;
    this.deadLetter = deadLetter;
    this.unsubscribe = log.onAppend(() => this.wake());
  }

  /** Loads the persisted cursor (a missing file means: from the oldest record). */
  async load(): Promise<void> {
    const saved = await readCursorFile(this.cursorPath);
    this.committed = Math.max(saved?.committed ?? 0, this.log.startOffset);
    for (const [from, to] of saved?.acked ?? []) for (let offset = from; offset <= to; offset += 1) if (offset >= this.committed) this.ackedAbove.add(offset);
    this.advanceCommitted();
    this.readCursor = await this.log.seek(this.committed);
  }

  /** Every offset below this is acknowledged. */
  get committedOffset(): number {
    return this.committed;
  }

  get backlog(): number {
    return this.log.endOffset - this.committed - this.ackedAbove.size;
  }

  get held(): number {
    return this.inFlight.size + this.waiting.length;
  }

  attach(options: ConsumerOptions): number {
    this.capacity += options.maxUnacked;
    return this.nextConsumerId++;
  }

  /** Returns the consumer's messages to the waiting queue for others. */
  detach(consumerId: number, options: ConsumerOptions): void {
    this.capacity -= options.maxUnacked;
    for (const delivery of this.inFlight.values()) {
      if (delivery.holder !== consumerId) continue;
      this.inFlight.delete(delivery.entry.offset);
      delivery.holder = undefined;
      delivery.readyAt = 0;
      this.waiting.push(delivery);
    }
    this.wake();
  }

  async receive(consumerId: number, max: number, waitMs: number, options: ConsumerOptions, isClosed: () => boolean): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (isClosed()) return [];
      const allowed = Math.min(max, options.maxUnacked - this.heldBy(consumerId));
      const taken = allowed > 0 ? await this.take(consumerId, allowed) : [];
      if (taken.length > 0) return taken.map((delivery) => toMessage(delivery, this.log.appendedAt(delivery.entry.offset)));
      const now = Date.now();
      const remaining = deadline - now;
      if (remaining <= 0) return [];
      await this.sleep(Math.min(remaining, this.nextRedeliveryAt() - now));
    }
  }

  ack(offset: number): void {
    if (!this.inFlight.delete(offset)) return;
    this.markAcked(offset);
    this.wake();
  }

  async nack(offset: number, failure: DeliveryFailure, options: ConsumerOptions): Promise<void> {
    const delivery = this.inFlight.get(offset);
    if (delivery === undefined) return;
    if (delivery.deliveries >= options.maxRedeliver) {
      await this.deadLetter(delivery.entry, failure, delivery.deliveries);
      this.ack(offset);
      return;
    }
    this.inFlight.delete(offset);
    delivery.holder = undefined;
    delivery.readyAt = Date.now() + options.nackDelayMs;
    this.waiting.push(delivery);
    this.wake();
  }

  heldBy(consumerId: number): number {
    let count = 0;
    for (const delivery of this.inFlight.values()) if (delivery.holder === consumerId) count += 1;
    return count;
  }

  /** Writes the cursor file now (also done shortly after each ack). */
  async checkpoint(): Promise<void> {
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    this.checkpointing = this.checkpointing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const body: CursorFile = { committed: this.committed, acked: toRanges([...this.ackedAbove].sort((a, b) => a - b)) };
      const temporary = `${this.cursorPath}.tmp`;
      await writeFile(temporary, JSON.stringify(body));
      await rename(temporary, this.cursorPath);
    });
    return this.checkpointing;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.wake();
    await this.checkpoint();
  }

  private async take(consumerId: number, max: number): Promise<Delivery[]> {
    const taken: Delivery[] = [];
    const now = Date.now();
    for (let index = 0; index < this.waiting.length && taken.length < max; ) {
      const delivery = this.waiting[index];
      if (delivery !== undefined && delivery.readyAt <= now) {
        this.waiting.splice(index, 1);
        taken.push(delivery);
      } else index += 1;
    }
    const room = Math.min(max - taken.length, this.capacity - this.held - taken.length);
    if (room > 0) for (const entry of await this.readNew(room)) taken.push({ entry, deliveries: 0, holder: undefined, readyAt: 0 });
    for (const delivery of taken) {
      delivery.deliveries += 1;
      delivery.holder = consumerId;
      this.inFlight.set(delivery.entry.offset, delivery);
    }
    return taken;
  }

  /**
   * Hands out fresh records after the read cursor, skipping those acknowledged before a
   * restart. The log is read a chunk at a time (up to READ_AHEAD_RECORDS records) and the
   * rest kept for the next calls: a consumer asking for a few messages at a time does not
   * cost a file read each.
   */
  private async readNew(max: number): Promise<LogEntry[]> {
    const run = this.readLock.then(async () => {
      const fresh: LogEntry[] = [];
      while (fresh.length < max) {
        if (this.readAheadAt >= this.readAhead.length) {
          if (this.readCursor === undefined || this.readCursor.offset >= this.log.endOffset) break;
          const { entries, next } = await this.log.read(this.readCursor, READ_AHEAD_RECORDS, true);
          this.readCursor = next;
          if (entries.length === 0) break;
          this.readAhead = entries;
          this.readAheadAt = 0;
        }
        const entry = this.readAhead[this.readAheadAt] as LogEntry;
        this.readAheadAt += 1;
        if (entry.offset >= this.committed && !this.ackedAbove.has(entry.offset)) fresh.push(entry);
      }
      if (this.readAheadAt >= this.readAhead.length) this.readAhead = [];
      return fresh;
    });
    this.readLock = run.catch(() => undefined);
    return run;
  }

  private markAcked(offset: number): void {
    if (offset === this.committed) {
      this.committed += 1;
      this.advanceCommitted();
    } else if (offset > this.committed) this.ackedAbove.add(offset);
    this.dirty = true;
    this.checkpointTimer ??= setTimeout(() => void this.checkpoint().catch(() => undefined), CHECKPOINT_DELAY_MS);
  }

  private advanceCommitted(): void {
    while (this.ackedAbove.delete(this.committed)) this.committed += 1;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wakers = this.wakers;
      function done(): void {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }

  private nextRedeliveryAt(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const delivery of this.waiting) next = Math.min(next, delivery.readyAt);
    return next;
  }
}

function toMessage(delivery: Delivery, publishedAt: number | undefined): ReceivedMessage {
  const { entry } = delivery;
  const message = { id: String(entry.offset), key: entry.record.key, payload: entry.record.payload, properties: entry.record.properties, redeliveryCount: delivery.deliveries - 1 };
  return publishedAt === undefined ? message : { ...message, publishedAt };
}

function toRanges(sorted: number[]): [number, number][] {
  const ranges: [number, number][] = [];
  for (const offset of sorted) {
    const last = ranges.at(-1);
    if (last !== undefined && last[1] === offset - 1) last[1] = offset;
    else ranges.push([offset, offset]);
  }
  return ranges;
}

async function readCursorFile(path: string): Promise<CursorFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CursorFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
