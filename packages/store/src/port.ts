import type { ErrorCode, TrackedEvent } from '@sluice/core';
import type { HealthCheck } from '@sluice/observability';

// The store has five callers, each with its own narrow port: the storage worker writes
// (EventSink), the API's read routes read (EventReader), the API records and resolves
// profile merges (ProfileMerges), the jobs run the lifecycle and backups
// (StoreMaintenance), and `sluice init` creates what the store needs (StoreProvisioner).
// One adapter object may serve all five (StoreAdapter); each caller is handed, and types
// itself against, only its own port.

/** What happened to one event of a batch write. */
export type WriteOutcome =
  | { readonly status: 'created' }
  /** The (source, id) pair was already stored: success (idempotent write). */
  | { readonly status: 'exists' }
  /** May succeed later (overload, timeout): retry with backoff. */
  | { readonly status: 'retryable'; readonly code: ErrorCode; readonly reason: string }
  /** Can never succeed (mapping conflict, cannot be serialised): dead-letter with the reason. */
  | { readonly status: 'rejected'; readonly code: ErrorCode; readonly reason: string };

/** Last-known state of a profile. Updates with a lower `version` never overwrite a higher one. */
export interface ProfileRecord {
  readonly id: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly lastSessionId: string;
  readonly lastSourceId: string;
  /** Monotonic version (Sluice uses the newest event's receive time in ms). */
  readonly version: number;
}

/** Last-known state of a session, versioned like a profile. */
export interface SessionRecord {
  readonly id: string;
  readonly profileId: string;
  readonly sourceId: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly version: number;
}

/** One worker batch: its events and the profile and session updates they imply. */
export interface StoreBatch {
  readonly events: readonly TrackedEvent[];
  readonly profiles: readonly ProfileRecord[];
  readonly sessions: readonly SessionRecord[];
}

/** The storage worker's port. */
export interface EventSink extends HealthCheck {
  /**
   * Writes one batch: the events, idempotently by (sourceId, id) — an event id is unique
   * within its source only — and the profile and session updates, where for each id the
   * highest version wins and `firstSeen` keeps the earliest (an update already written
   * changes nothing when sent again). One transaction (SQLite) or one `_bulk` request
   * (Elasticsearch; conflicting updates are then read, merged and written again).
   *
   * Returns one outcome per event, in the order given. An event that can never be stored —
   * one that cannot even be serialised (say, properties nested 10 000 deep) or that the store
   * refuses (a mapping conflict) — is a `rejected` outcome for that event alone; its
   * neighbours are written.
   *
   * Throws only a SluiceError: retryable (`STORE_UNAVAILABLE`) when the store cannot be
   * reached or cannot take the batch now (connection, timeout, overload, 5xx, the profile or
   * session updates not written); non-retryable (`STORE_REJECTED`) when the request itself
   * can never succeed. After a throw nothing is known of the events: send the batch again
   * (every write in it is idempotent).
   */
  writeBatch(batch: StoreBatch): Promise<WriteOutcome[]>;
}

export interface EventQuery {
  readonly profileId?: string;
  readonly sessionId?: string;
  /** Inclusive lower bound of the server receive time (`receivedAt`), ISO-8601. */
  readonly from?: string;
  /** Exclusive upper bound of the server receive time (`receivedAt`), ISO-8601. */
  readonly to?: string;
  /** Page size, 1..1000. */
  readonly limit: number;
  /** Opaque cursor from the previous page's `next`. */
  readonly cursor?: string;
}

export interface EventPage {
  /**
   * Newest first by server receive time (`receivedAt`), then source id, then id — never by
   * the client's `time`, which any client can set to any year.
   */
  readonly events: TrackedEvent[];
  /** Cursor of the next (older) page; absent on the last page. */
  readonly next?: string;
}

/** The API read routes' port. Reads see every write that returned before them. */
export interface EventReader {
  /** The event `eventId` of source `sourceId`; another source's event of that id is not it. */
  getEvent(sourceId: string, eventId: string): Promise<TrackedEvent | undefined>;
  getProfile(id: string): Promise<ProfileRecord | undefined>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Events matching every given filter, newest first (see EventPage), paged. Throws INVALID_CURSOR on a bad cursor. */
  queryEvents(query: EventQuery): Promise<EventPage>;
  /**
   * The distinct values of one field of the events' `context` (`path`: its keys, e.g.
   * `['segment', 'userId']`) over every event of the given profiles: strings, integers (their
   * digits) and booleans (`true`, `false`) — never objects, arrays or null — each at most CONTEXT_VALUE_MAX_LENGTH (1024) characters (longer ones
   * are not indexed by Elasticsearch, so neither store lists them), in ascending order of their
   * UTF-8 bytes, at most `limit`. One bounded aggregation (Elasticsearch `terms`, SQLite
   * `SELECT DISTINCT … LIMIT`), never a read of the events themselves.
   */
  contextValues(query: ContextValuesQuery): Promise<string[]>;
}

/** A path into `context` whose values `contextValues` lists. Keys are code constants (`[A-Za-z0-9_]+`), never request data. */
export interface ContextValuesQuery {
  /** 1..1000 profile ids. */
  readonly profileIds: readonly string[];
  readonly path: readonly string[];
  /** Most values returned, 1..1000. */
  readonly limit: number;
}

/** One profile merged into another: requests and lookups naming `from` resolve to `into`. */
export interface ProfileMerge {
  readonly from: string;
  readonly into: string;
  /** When the merge was recorded, ISO-8601 UTC (stored as `toISOString()` writes it). */
  readonly mergedAt: string;
}

/** A page of `listMerges`: in the merges' order (`mergedAt`, then `from`). */
export interface MergeListQuery {
  /** Oldest `mergedAt` listed, ISO-8601 UTC, inclusive; every merge when absent. */
  readonly since?: string;
  /** The last merge of the previous page: this page starts after it. */
  readonly after?: Pick<ProfileMerge, 'mergedAt' | 'from'>;
  /** Most merges returned, 1..10000. */
  readonly limit: number;
}

/**
 * The API's port for profile merges. The store is their source of truth; the profile cache
 * holds copies (see docs/redis.md). A profile is merged at most once: what it was merged
 * into never changes, except by backing a merge out (`removeMerge`).
 */
export interface ProfileMerges {
  /**
   * Records `merge` unless `merge.from` was merged already, atomically. Returns the merge on
   * record for `from`: this one, or the earlier one (its `into` tells which). Visible to
   * `getMerge` on every replica as soon as it returns.
   */
  recordMerge(merge: ProfileMerge): Promise<ProfileMerge>;
  /** Removes the merge of `from` when it is into `into` (nothing otherwise). */
  removeMerge(from: string, into: string): Promise<void>;
  /** The merge on record for `id` (one hop), if any. */
  getMerge(id: string): Promise<ProfileMerge | undefined>;
  /**
   * The merges recorded into `into` (one hop: the profiles it absorbed directly), in
   * ascending order of `from`, at most `limit` (1..1000). Elasticsearch answers from a search,
   * so a merge shows here within the index refresh interval (`getMerge` at once).
   */
  getMergesInto(into: string, limit: number): Promise<ProfileMerge[]>;
  /**
   * Merges in the order of `mergedAt` (the recording replica's clock), then `from`, a page at
   * a time: how a replica learns every merged profile, then the new ones (a poller reads
   * again from a while before its last read: a merge recorded on a clock behind, or not yet
   * listed, would sort before it). RangeError on a limit or time out of range.
   */
  listMerges(query: MergeListQuery): Promise<ProfileMerge[]>;
  /**
   * Longest a recorded merge takes to show in `listMerges` as the store is set now, ms
   * (Elasticsearch: the merges index's refresh interval; Infinity when its refreshes are
   * off). `getMerge` sees a merge at once.
   */
  mergesListedWithin(): Promise<number>;
}

/** What one maintenance run did, one line per action (empty: nothing to do). */
export interface MaintenanceReport {
  readonly actions: string[];
}

/** The jobs' port. Both methods are safe to run repeatedly and from several replicas at once. */
export interface StoreMaintenance {
  /**
   * One lifecycle pass as of `now`: retention (events received more than the retention
   * period before `now` are deleted — by server receive time, never by the client's `time`),
   * and in Elasticsearch without ILM rollover and tier moves.
   */
  maintain(now: Date): Promise<MaintenanceReport>;
  /**
   * One backup as of `now`, pruning the oldest beyond the configured count, where the store
   * takes backups itself. A store without snapshots, or whose engine schedules them itself
   * (SLM), returns an empty report.
   */
  snapshot(now: Date): Promise<MaintenanceReport>;
}

/** `sluice init`'s port. */
export interface StoreProvisioner {
  /**
   * Creates or updates what the store needs — templates, policies, aliases, first indices,
   * snapshot repository (Elasticsearch); schema migrations (SQLite). Idempotent and safe
   * from several processes at once. Returns what it did, one line each.
   */
  provision(): Promise<string[]>;
  /**
   * What `provision` creates that the API, workers and jobs need, when it is missing: one
   * line each (empty: provisioned). Reads only, with a replica's privileges: replicas call it
   * at start instead of provisioning, and wait for `sluice init` while it is not empty.
   */
  unprovisioned(): Promise<string[]>;
}

/** One adapter serving all four callers; what wiring builds and closes. */
export interface StoreAdapter extends EventSink, EventReader, ProfileMerges, StoreMaintenance, StoreProvisioner {
  /** Releases the engine connection; idempotent. Afterwards writes throw a retryable error. */
  close(): Promise<void>;
}
