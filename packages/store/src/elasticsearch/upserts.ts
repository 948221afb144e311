import type { estypes } from '@elastic/elasticsearch';
import { LRUCache } from 'lru-cache';
import { SluiceError } from '@sluice/core';
import type { ElasticContext } from './connection.ts';
import { classifyItem, request } from './errors.ts';

// Profiles and sessions: versioned documents merged read-modify-write with
// `if_seq_no`/`if_primary_term`, so an older version never overwrites a newer one, with no
// scripts (the minimal distribution has no painless).

/** Optimistic-concurrency retries of one profile or session upsert batch. */
const UPSERT_ATTEMPTS = 5;

/** Profiles and sessions whose last written version this process remembers, per index. */
const WRITTEN_CACHE_ENTRIES = 100_000;

/** A profile or session: what the merge needs of it. */
export interface Versioned {
  readonly id: string;
  readonly version: number;
  readonly firstSeen: string;
}

/** A document as this process last wrote it, with the sequence number that write got. */
interface Written<T> {
  readonly doc: T;
  readonly seqNo: number;
  readonly primaryTerm: number;
}

type BulkItem = Partial<Record<estypes.BulkOperationType, estypes.BulkResponseItem>>;

/** The highest version wins; `firstSeen` keeps the earliest. */
export function mergeVersioned<T extends Versioned>(current: T, next: T): T {
  return { ...(next.version >= current.version ? next : current), firstSeen: current.firstSeen < next.firstSeen ? current.firstSeen : next.firstSeen };
}

/** Profile and session documents are flat: equal when every field is (cheaper than serialising both). */
function sameFields(a: object, b: object): boolean {
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => left[key] === right[key]);
}

/** The updates of one index within one write: what is wanted, what is known of the current documents. */
export class UpsertPart<T extends Versioned> {
  /** Merged updates by id still to write. */
  readonly wanted = new Map<string, T>();
  private readonly current = new Map<string, Written<T> | undefined>();
  private readonly sent = new Map<string, T>();

  readonly index: string;
  private readonly memory: LRUCache<string, Written<T>>;

  constructor(index: string, records: readonly T[], memory: LRUCache<string, Written<T>>, fromMemory: boolean) {
    this.index = index;
    this.memory = memory;
    for (const record of records) {
      const seen = this.wanted.get(record.id);
      this.wanted.set(record.id, seen ? mergeVersioned(seen, record) : record);
    }
    if (fromMemory) for (const id of this.wanted.keys()) {
      const known = memory.get(id);
      if (known !== undefined) this.current.set(id, known);
    }
  }

  /** Ids whose current document must be read. */
  get unknown(): string[] {
    return [...this.wanted.keys()].filter((id) => !this.current.has(id));
  }

  forgetAll(): void {
    this.current.clear();
  }

  learn(read: { docs: readonly estypes.MgetResponseItem<T>[] }): void {
    for (const doc of read.docs) {
      if ('found' in doc && doc.found && doc._source !== undefined && doc._seq_no !== undefined && doc._primary_term !== undefined) this.current.set(doc._id, { doc: doc._source, seqNo: doc._seq_no, primaryTerm: doc._primary_term });
      else this.current.set(doc._id, undefined);
    }
  }

  /** Bulk operations for what changes: `create` where nothing is there, else `index` with `if_seq_no`. */
  operations(): object[] {
    const operations: object[] = [];
    this.sent.clear();
    for (const [id, next] of this.wanted) {
      const existing = this.current.get(id);
      if (existing === undefined) {
        operations.push({ create: { _index: this.index, _id: id } }, next);
        this.sent.set(id, next);
        continue;
      }
      const merged = mergeVersioned(existing.doc, next);
      if (sameFields(merged, existing.doc)) {
        this.wanted.delete(id);
        continue;
      }
      operations.push({ index: { _index: this.index, _id: id, if_seq_no: existing.seqNo, if_primary_term: existing.primaryTerm } }, merged);
      this.sent.set(id, merged);
    }
    return operations;
  }

  /**
   * Written ids are remembered and done; conflicts (409) are forgotten and stay wanted; any
   * other failure throws, retryable or not as classifyItem decides.
   */
  settle(items: readonly BulkItem[]): void {
    for (const item of items) {
      const result = item.index ?? item.create;
      if (!result?._id) continue;
      if (result.status < 300) {
        const doc = this.sent.get(result._id);
        if (doc !== undefined && result._seq_no !== undefined && result._primary_term !== undefined) this.memory.set(result._id, { doc, seqNo: result._seq_no, primaryTerm: result._primary_term });
        this.wanted.delete(result._id);
      } else if (result.status === 409) {
        this.memory.delete(result._id);
        this.current.delete(result._id);
      } else {
        const outcome = classifyItem(result);
        const reason = 'reason' in outcome ? outcome.reason : String(result.status);
        throw new SluiceError(outcome.status === 'retryable' ? 'STORE_UNAVAILABLE' : 'STORE_REJECTED', `upsert into ${this.index} failed: ${reason}`);
      }
    }
  }
}

/**
 * Per index, the profiles and sessions this process wrote last, with their sequence
 * numbers: the next update of a known id is written with `if_seq_no` straight away, no
 * `mget` first. Another writer in between makes it a 409, and that id is read again.
 */
export class VersionedUpserts {
  private readonly written = new Map<string, LRUCache<string, Written<unknown>>>();
  private readonly context: ElasticContext;

  constructor(context: ElasticContext) {
    this.context = context;
  }

  /** The part of a write for `index`, starting from what this process remembers. */
  part<T extends Versioned>(index: string, records: readonly T[]): UpsertPart<T> {
    return new UpsertPart<T>(index, records, this.remembered<T>(index), true);
  }

  /**
   * Merge and write with optimistic concurrency: from the remembered version of an id where
   * this process wrote it last (`fromMemory`), else from an `mget`; conflicting ids are read
   * and merged again, up to UPSERT_ATTEMPTS times.
   */
  async upsert<T extends Versioned>(index: string, records: readonly T[], fromMemory: boolean): Promise<void> {
    const { client, refresh } = this.context;
    const part = new UpsertPart<T>(index, records, this.remembered<T>(index), fromMemory);
    for (let attempt = 0; attempt < UPSERT_ATTEMPTS && part.wanted.size > 0; attempt += 1) {
      if (attempt > 0) part.forgetAll();
      if (part.unknown.length > 0) part.learn(await request(() => client.mget<T>({ index, ids: part.unknown, realtime: true })));
      const operations = part.operations();
      if (operations.length === 0) return;
      const response = await request(() => client.bulk({ operations, refresh }));
      part.settle(response.items);
    }
    if (part.wanted.size > 0) throw new SluiceError('STORE_UNAVAILABLE', `upsert into ${index} kept conflicting for ${String(part.wanted.size)} ids`);
  }

  private remembered<T>(index: string): LRUCache<string, Written<T>> {
    let written = this.written.get(index);
    if (written === undefined) {
      written = new LRUCache<string, Written<unknown>>({ max: WRITTEN_CACHE_ENTRIES });
      this.written.set(index, written);
    }
    return written as unknown as LRUCache<string, Written<T>>;
  }
}
