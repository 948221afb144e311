import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SluiceError, type TrackedEvent } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type { StoreBatch, EventPage, EventQuery, EventStore, MaintenanceReport, ProfileRecord, SessionRecord, WriteOutcome } from '../port.ts';

export interface SqliteStoreOptions {
  /** The database file (`:memory:` for a throw-away store). */
  readonly path: string;
  /** Events older than this (ms) are deleted by `maintain()`; 0 keeps them forever. */
  readonly retentionMs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  time TEXT NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_profile ON events (profile_id, time, id);
CREATE INDEX IF NOT EXISTS events_by_session ON events (session_id, time, id);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time, id);
CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  last_session_id TEXT NOT NULL, last_source_id TEXT NOT NULL, version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, profile_id TEXT NOT NULL, source_id TEXT NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, version INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * The embedded EventStore: one SQLite file (WAL) under DATA_DIR. A batch is one
 * transaction; `INSERT OR IGNORE` on the event id makes writes idempotent.
 */
export class SqliteEventStore implements EventStore {
  private readonly db: DatabaseSync;
  private readonly insertEvent: StatementSync;
  private readonly upsertProfile: StatementSync;
  private readonly upsertSession: StatementSync;
  private readonly selectEvent: StatementSync;
  private readonly selectProfile: StatementSync;
  private readonly selectSession: StatementSync;
  private closed = false;

  private readonly options: SqliteStoreOptions;

  constructor(options: SqliteStoreOptions) {
    this.options = options;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new DatabaseSync(options.path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    this.db.exec(SCHEMA);
    this.insertEvent = this.db.prepare('INSERT OR IGNORE INTO events (id, profile_id, session_id, time, body) VALUES (?, ?, ?, ?, ?)');
    this.selectEvent = this.db.prepare('SELECT body FROM events WHERE id = ?');
    this.selectProfile = this.db.prepare('SELECT * FROM profiles WHERE id = ?');
    this.selectSession = this.db.prepare('SELECT * FROM sessions WHERE id = ?');
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

  async writeEvents(events: readonly TrackedEvent[]): Promise<WriteOutcome[]> {
    this.assertOpen();
    return this.transaction(() =>
      events.map((event): WriteOutcome => {
        const { changes } = this.insertEvent.run(event.id, event.profileId, event.sessionId, event.time, JSON.stringify(event));
        return changes > 0 ? { status: 'created' } : { status: 'exists' };
      }),
    );
  }

  /** The whole batch in one transaction; an event that cannot be serialised is rejected alone. */
  async writeBatch(batch: StoreBatch): Promise<WriteOutcome[]> {
    this.assertOpen();
    return this.transaction(() => {
      const outcomes = batch.events.map((event): WriteOutcome => {
        let body: string;
        try {
          body = JSON.stringify(event);
        } catch (error) {
          return { status: 'rejected', code: 'STORE_REJECTED', reason: `the event cannot be serialised: ${error instanceof Error ? error.message : String(error)}` };
        }
        const { changes } = this.insertEvent.run(event.id, event.profileId, event.sessionId, event.time, body);
        return changes > 0 ? { status: 'created' } : { status: 'exists' };
      });
      for (const p of batch.profiles) this.upsertProfile.run(p.id, p.firstSeen, p.lastSeen, p.lastSessionId, p.lastSourceId, p.version);
      for (const s of batch.sessions) this.upsertSession.run(s.id, s.profileId, s.sourceId, s.firstSeen, s.lastSeen, s.version);
      return outcomes;
    });
  }

  async upsertProfiles(profiles: readonly ProfileRecord[]): Promise<void> {
    this.assertOpen();
    this.transaction(() => {
      for (const p of profiles) this.upsertProfile.run(p.id, p.firstSeen, p.lastSeen, p.lastSessionId, p.lastSourceId, p.version);
    });
  }

  async upsertSessions(sessions: readonly SessionRecord[]): Promise<void> {
    this.assertOpen();
    this.transaction(() => {
      for (const s of sessions) this.upsertSession.run(s.id, s.profileId, s.sourceId, s.firstSeen, s.lastSeen, s.version);
    });
  }

  async getEvent(id: string): Promise<TrackedEvent | undefined> {
    this.assertOpen();
    const row = this.selectEvent.get(id) as { body: string } | undefined;
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

  async queryEvents(query: EventQuery): Promise<EventPage> {
    this.assertOpen();
    const where: string[] = [];
    const params: string[] = [];
    const filter = (clause: string, ...values: string[]): void => {
      where.push(clause);
      params.push(...values);
    };
    if (query.profileId !== undefined) filter('profile_id = ?', query.profileId);
    if (query.sessionId !== undefined) filter('session_id = ?', query.sessionId);
    if (query.from !== undefined) filter('time >= ?', new Date(query.from).toISOString());
    if (query.to !== undefined) filter('time < ?', new Date(query.to).toISOString());
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      filter('(time < ? OR (time = ? AND id < ?))', after.time, after.time, after.id);
    }
    const sql = `SELECT body FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ${Math.trunc(query.limit) + 1}`;
    const rows = this.db.prepare(sql).all(...params) as { body: string }[];
    const events = rows.slice(0, query.limit).map((row) => JSON.parse(row.body) as TrackedEvent);
    const last = events.at(-1);
    return rows.length > query.limit && last !== undefined ? { events, next: encodeCursor(last) } : { events };
  }

  async maintain(now: Date): Promise<MaintenanceReport> {
    this.assertOpen();
    if (this.options.retentionMs <= 0) return { actions: [] };
    const cutoff = new Date(now.getTime() - this.options.retentionMs).toISOString();
    const { changes } = this.db.prepare('DELETE FROM events WHERE time < ?').run(cutoff);
    return { actions: [`deleted ${changes} events older than ${cutoff}`] };
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
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw new SluiceError('STORE_UNAVAILABLE', `sqlite write failed: ${(error as Error).message}`, { cause: error });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SluiceError('STORE_UNAVAILABLE', 'the store is closed');
  }
}
