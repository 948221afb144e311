import type { ErrorCode, TrackedEvent } from '@sluice/core';
import type { HealthCheck } from '@sluice/observability';

/** What happened to one event of a batch write. */
export type WriteOutcome =
  | { readonly status: 'created' }
  /** The id was already stored: success (idempotent write). */
  | { readonly status: 'exists' }
  /** May succeed later (overload, timeout): retry with backoff. */
  | { readonly status: 'retryable'; readonly code: ErrorCode; readonly reason: string }
  /** Can never succeed (mapping conflict): dead-letter with the reason. */
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

export interface SessionRecord {
  readonly id: string;
  readonly profileId: string;
  readonly sourceId: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly version: number;
}

export interface EventQuery {
  readonly profileId?: string;
  readonly sessionId?: string;
  /** Inclusive lower bound of event time, ISO-8601. */
  readonly from?: string;
  /** Exclusive upper bound of event time, ISO-8601. */
  readonly to?: string;
  /** Page size, 1..1000. */
  readonly limit: number;
  /** Opaque cursor from the previous page's `next`. */
  readonly cursor?: string;
}

export interface EventPage {
  /** Newest first (by event time, then id). */
  readonly events: TrackedEvent[];
  /** Cursor of the next (older) page; absent on the last page. */
  readonly next?: string;
}

export interface MaintenanceReport {
  readonly actions: string[];
}

/** One storage-worker batch: its events and the profile and session updates they imply. */
export interface StoreBatch {
  readonly events: readonly TrackedEvent[];
  readonly profiles: readonly ProfileRecord[];
  readonly sessions: readonly SessionRecord[];
}

/** The storage worker's port: one batch write. */
export interface EventSink extends HealthCheck {
  /**
   * Writes the events (idempotently) and upserts the profiles and sessions, in one request
   * where the store can. One outcome per event, in order; an event the store can never take
   * is a `rejected` outcome, never a throw. Throws a retryable SluiceError when the store
   * cannot be reached, a non-retryable one when the request can never succeed.
   */
  writeBatch(batch: StoreBatch): Promise<WriteOutcome[]>;
}

/**
 * Where events, profiles and sessions are kept. Writes are idempotent by event id.
 */
export interface EventStore extends EventSink {
  /**
   * Writes a batch in one request. Returns one outcome per event, in order. Throws (a
   * retryable error) only when the store cannot be reached at all.
   */
  writeEvents(events: readonly TrackedEvent[]): Promise<WriteOutcome[]>;
  /** Upserts profiles; for each id the highest version wins, `firstSeen` keeps the earliest. */
  upsertProfiles(profiles: readonly ProfileRecord[]): Promise<void>;
  /** Upserts sessions with the same rules as profiles. */
  upsertSessions(sessions: readonly SessionRecord[]): Promise<void>;
  getEvent(id: string): Promise<TrackedEvent | undefined>;
  getProfile(id: string): Promise<ProfileRecord | undefined>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Events matching every given filter, newest first, paged. Throws INVALID_CURSOR on a bad cursor. */
  queryEvents(query: EventQuery): Promise<EventPage>;
  /** One lifecycle pass (retention, rollover…) as of `now`; safe to run repeatedly. */
  maintain(now: Date): Promise<MaintenanceReport>;
  /**
   * Takes one backup as of `now` and prunes the oldest beyond the configured count, where
   * the store takes backups itself (absent where it has none, or where the engine schedules
   * them on its own).
   */
  snapshot?(now: Date): Promise<MaintenanceReport>;
  close(): Promise<void>;
}
