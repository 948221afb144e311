import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SluiceError, type TrackedEvent } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import { queryTimeMs } from '../query-time.ts';
import { decodeCursor, encodeCursor, receivedAtMs } from '../cursor.ts';
import { serialiseEvent } from '../serialise.ts';
import { CONTEXT_VALUE_MAX_LENGTH, assertContextValuesQuery } from '../context-values.ts';
import type { ContextValuesQuery, EventPage, EventQuery, MaintenanceReport, MergeListQuery, ProfileMerge, ProfileRecord, SessionRecord, StoreAdapter, StoreBatch, WriteOutcome } from '../port.ts';
import { mergeListStart, storedMerge } from '../merge-list.ts';
import { migrateSchema } from './schema.ts';

export interface SqliteStoreOptions {
  /** The database file (`:memory:` for a throw-away store). */
  readonly path: string;
  /** Events received more than this (ms) before a `maintain()` pass are deleted; 0 keeps them forever. */
  readonly retentionMs: number;
}

/**
 * The embedded store: one SQLite file (WAL) under DATA_DIR, serving all four store ports. A
 * batch is one transaction; `INSERT OR IGNORE` on (source_id, id) makes event writes
 * idempotent per source. Opening the file brings its schema up to date (see schema.ts), so
 * the all-in-one process needs no separate init.
 */
export class SqliteEventStore implements StoreAdapter {
  private readonly db: DatabaseSync;
  private readonly insertEvent: StatementSync;
  private readonly upsertProfile: StatementSync;
  private readonly upsertSession: StatementSync;
  private readonly selectEvent: StatementSync;
  private readonly selectProfile: StatementSync;
  private readonly selectSession: StatementSync;
  private readonly insertMerge: StatementSync;
  private readonly selectMerge: StatementSync;
  private readonly deleteMerge: StatementSync;
  private readonly selectMergesInto: StatementSync;
  private readonly selectMergesSince: StatementSync;
  private closed = false;

  private readonly options: SqliteStoreOptions;

  constructor(options: SqliteStoreOptions) {
    this.options = options;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new DatabaseSync(options.path);
    try {
      this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
      migrateSchema(this.db, options.path);
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.insertEvent = this.db.prepare('INSERT OR IGNORE INTO events (source_id, id, profile_id, session_id, received_at, body) VALUES (?, ?, ?, ?, ?, ?)');
    this.selectEvent = this.db.prepare('SELECT body FROM events WHERE source_id = ? AND id = ?');
    this.selectProfile = this.db.prepare('SELECT * FROM profiles WHERE id = ?');
    this.selectSession = this.db.prepare('SELECT * FROM sessions WHERE id = ?');
    this.insertMerge = this.db.prepare('INSERT OR IGNORE INTO profile_merges (from_id, into_id, merged_at) VALUES (?, ?, ?)');
    this.selectMerge = this.db.prepare('SELECT from_id, into_id, merged_at FROM profile_merges WHERE from_id = ?');
    this.deleteMerge = this.db.prepare('DELETE FROM profile_merges WHERE from_id = ? AND into_id = ?');
    this.selectMergesInto = this.db.prepare('SELECT from_id, into_id, merged_at FROM profile_merges WHERE into_id = ? ORDER BY from_id LIMIT ?');
    // One row-value bound: the (merged_at, from_id) index seeks straight to the page (a separate `merged_at >= ?` would scan from there).
    this.selectMergesSince = this.db.prepare('SELECT from_id, into_id, merged_at FROM profile_merges WHERE (merged_at, from_id) > (?, ?) ORDER BY merged_at, from_id LIMIT ?');
    this.upsertProfile = this.db.prepare(`
      INSERT INTO profiles (id, first_seen, last_seen, last_session_id, last_source_id, version) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET
        first_seen = min(profiles.first_seen, excluded.first_seen),
        last_seen = CASE WHEN excluded.version > profiles.version THEN excluded.last_seen ELSE profiles.last_seen END,
        last_session_id = CASE WHEN excluded.version > profiles.version THEN excluded.last_session_id ELSE profiles.last_session_id END,
        last_source_id = CASE WHEN excluded.version > profiles.version THEN excluded.last_source_id ELSE profiles.last_source_id END,
        version = max(profiles.version, excluded.version)`);
    this.upsertSession = this.db.prepare(`
      INSERT INTO sessions (id, profile_id, source_id, first_seen, last_seen, version) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET
        first_seen = min(sessions.first_seen, excluded.first_seen),
        profile_id = CASE WHEN excluded.version > sessions.version THEN excluded.profile_id ELSE sessions.profile_id END,
        source_id = CASE WHEN excluded.version > sessions.version THEN excluded.source_id ELSE sessions.source_id END,
        last_seen = CASE WHEN excluded.version > sessions.version THEN excluded.last_seen ELSE sessions.last_seen END,
        version = max(sessions.version, excluded.version)`);
  }

  /** Brings the schema up to date (already done at open: normally nothing to do). */
  async provision(): Promise<string[]> {
    this.assertOpen();
    return migrateSchema(this.db, this.options.path);
  }

  /** Nothing: the schema is migrated when the file is opened (the all-in-one's own store). */
  async unprovisioned(): Promise<string[]> {
    this.assertOpen();
    return [];
  }

  /** Events, profiles and sessions in one transaction; an event that cannot be serialised is rejected alone. */
  async writeBatch(batch: StoreBatch): Promise<WriteOutcome[]> {
    this.assertOpen();
    const prepared = batch.events.map(serialiseEvent);
    return this.transaction(() => {
      const outcomes = prepared.map((row, position): WriteOutcome => {
        if ('rejected' in row) return row.rejected;
        const event = batch.events[position]!;
        const { changes } = this.insertEvent.run(event.sourceId, event.id, event.profileId, event.sessionId, row.receivedAtMs, row.json);
        return changes > 0 ? { status: 'created' } : { status: 'exists' };
      });
      for (const p of batch.profiles) this.upsertProfile.run(p.id, p.firstSeen, p.lastSeen, p.lastSessionId, p.lastSourceId, p.version);
      for (const s of batch.sessions) this.upsertSession.run(s.id, s.profileId, s.sourceId, s.firstSeen, s.lastSeen, s.version);
      return outcomes;
    });
  }

  async getEvent(sourceId: string, eventId: string): Promise<TrackedEvent | undefined> {
    this.assertOpen();
    const row = this.selectEvent.get(sourceId, eventId) as { body: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.body) as TrackedEvent);
  }

  async getProfile(id: string): Promise<ProfileRecord | undefined> {
    this.assertOpen();
    const row = this.selectProfile.get(id) as Record<string, string | number> | undefined;
    if (row === undefined) return undefined;
    return { id: String(row['id']), firstSeen: String(row['first_seen']), lastSeen: String(row['last_seen']), lastSessionId: String(row['last_session_id']), lastSourceId: String(row['last_source_id']), version: Number(row['version']) };
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    this.assertOpen();
    const row = this.selectSession.get(id) as Record<string, string | number> | undefined;
    if (row === undefined) return undefined;
    return { id: String(row['id']), profileId: String(row['profile_id']), sourceId: String(row['source_id']), firstSeen: String(row['first_seen']), lastSeen: String(row['last_seen']), version: Number(row['version']) };
  }

  /** `INSERT OR IGNORE` on the primary key `from_id`: the first merge of a profile stays. */
  async recordMerge(given: ProfileMerge): Promise<ProfileMerge> {
    this.assertOpen();
    const merge = storedMerge(given);
    this.insertMerge.run(merge.from, merge.into, merge.mergedAt);
    return (await this.getMerge(merge.from)) ?? merge;
  }

  async removeMerge(from: string, into: string): Promise<void> {
    this.assertOpen();
    this.deleteMerge.run(from, into);
  }

  async getMerge(id: string): Promise<ProfileMerge | undefined> {
    this.assertOpen();
    const row = this.selectMerge.get(id) as { from_id: string; into_id: string; merged_at: string } | undefined;
    return row === undefined ? undefined : { from: row.from_id, into: row.into_id, mergedAt: row.merged_at };
  }

  /** Over the merges' `into_id` index (schema 3). */
  async getMergesInto(into: string, limit: number): Promise<ProfileMerge[]> {
    this.assertOpen();
    const rows = this.selectMergesInto.all(into, Math.trunc(limit)) as { from_id: string; into_id: string; merged_at: string }[];
    return rows.map((row) => ({ from: row.from_id, into: row.into_id, mergedAt: row.merged_at }));
  }

  /** Over the merges' `(merged_at, from_id)` index (schema 4); times are kept as `toISOString()` writes them, so text order is time order. */
  async listMerges(query: MergeListQuery): Promise<ProfileMerge[]> {
    this.assertOpen();
    const { afterTime, afterFrom, limit } = mergeListStart(query);
    const rows = this.selectMergesSince.all(afterTime, afterFrom, limit) as { from_id: string; into_id: string; merged_at: string }[];
    return rows.map((row) => ({ from: row.from_id, into: row.into_id, mergedAt: row.merged_at }));
  }

  /** At once: one database. */
  async mergesListedWithin(): Promise<number> {
    this.assertOpen();
    return 0;
  }

  /**
   * `SELECT DISTINCT` over the profiles' events (their `events_by_profile` index), the value
   * read from the body with `json_extract`; ordered as text, byte by byte (BINARY collation),
   * like Elasticsearch's keys. The path is bound as a parameter, never spliced.
   */
  async contextValues(query: ContextValuesQuery): Promise<string[]> {
    this.assertOpen();
    assertContextValuesQuery(query);
    const profiles = query.profileIds.map(() => '?').join(', ');
    const sql = `SELECT DISTINCT CASE kind WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(raw AS TEXT) END AS value FROM (
        SELECT json_type(body, ?) AS kind, json_extract(body, ?) AS raw FROM events WHERE profile_id IN (${profiles})
      ) WHERE kind IN ('text', 'integer', 'real', 'true', 'false') AND length(value) <= ? ORDER BY value LIMIT ?`;
    const jsonPath = `$.context.${query.path.join('.')}`;
    const rows = this.db.prepare(sql).all(jsonPath, jsonPath, ...query.profileIds, CONTEXT_VALUE_MAX_LENGTH, Math.trunc(query.limit)) as { value: string }[];
    return rows.map((row) => row.value);
  }

  async queryEvents(query: EventQuery): Promise<EventPage> {
    this.assertOpen();
    const where: string[] = [];
    const params: (string | number)[] = [];
    const filter = (clause: string, ...values: (string | number)[]): void => {
      where.push(clause);
      params.push(...values);
    };
    if (query.profileId !== undefined) filter('profile_id = ?', query.profileId);
    if (query.sessionId !== undefined) filter('session_id = ?', query.sessionId);
    if (query.from !== undefined) filter('received_at >= ?', queryTimeMs(query.from, 'from'));
    if (query.to !== undefined) filter('received_at < ?', queryTimeMs(query.to, 'to'));
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      filter('(received_at, source_id, id) < (?, ?, ?)', after.receivedAtMs, after.sourceId, after.id);
    }
    const limit = Math.trunc(query.limit);
    const sql = `SELECT body FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, source_id DESC, id DESC LIMIT ${String(limit + 1)}`;
    const rows = this.db.prepare(sql).all(...params) as { body: string }[];
    const events = rows.slice(0, limit).map((row) => JSON.parse(row.body) as TrackedEvent);
    const last = events.at(-1);
    return rows.length > limit && last !== undefined ? { events, next: encodeCursor({ receivedAtMs: receivedAtMs(last), sourceId: last.sourceId, id: last.id }) } : { events };
  }

  /** Deletes events received more than the retention period before `now` (client time plays no part). */
  async maintain(now: Date): Promise<MaintenanceReport> {
    this.assertOpen();
    if (this.options.retentionMs <= 0) return { actions: [] };
    const cutoff = now.getTime() - this.options.retentionMs;
    const { changes } = this.db.prepare('DELETE FROM events WHERE received_at < ?').run(cutoff);
    return { actions: [`deleted ${String(changes)} events received before ${new Date(cutoff).toISOString()}`] };
  }

  /** The embedded store takes no backups of its own (copy the file; see docs/operations). */
  async snapshot(): Promise<MaintenanceReport> {
    this.assertOpen();
    return { actions: [] };
  }

  async health(): Promise<DependencyHealth> {
    if (this.closed) return { ok: false, adapter: 'embedded', error: 'closed' };
    try {
      this.db.prepare('SELECT 1').get();
      return { ok: true, adapter: 'embedded', detail: { path: this.options.path } };
    } catch (error) {
      return { ok: false, adapter: 'embedded', error: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private transaction<T>(work: () => T): T {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw sqliteError(error);
    }
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw sqliteError(error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SluiceError('STORE_UNAVAILABLE', 'the store is closed');
  }
}


/**
 * SQLite result codes (primary code, the low byte) that a later attempt can get past: busy,
 * locked, out of memory, I/O error, disk full, cannot open, lock protocol. Every other code
 * (constraint, mismatch, corrupt…) is a request or a file that will not get better by waiting.
 */
const RETRYABLE_SQLITE_CODES = new Set([5, 6, 7, 10, 13, 14, 15]);

/** Classifies a failed SQLite write once: retryable STORE_UNAVAILABLE, or permanent STORE_REJECTED. */
function sqliteError(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const errcode = (error as { errcode?: unknown }).errcode;
  const retryable = typeof errcode === 'number' && RETRYABLE_SQLITE_CODES.has(errcode & 0xff);
  return new SluiceError(retryable ? 'STORE_UNAVAILABLE' : 'STORE_REJECTED', `sqlite write failed: ${(error as Error).message}`, { cause: error });
}
