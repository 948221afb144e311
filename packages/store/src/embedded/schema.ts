import type { DatabaseSync } from 'node:sqlite';
import { SluiceError } from '@sluice/core';

/**
 * The schema version this code reads and writes, kept in `PRAGMA user_version`.
 * 0: the schema before per-source ids (events keyed by id alone, ordered by client time).
 * 1: events keyed by (source_id, id), ordered and expired by server receive time (ms).
 * 2: profile merges.
 * 3: profile merges indexed by the profile they went into (the profiles a profile absorbed).
 * 4: profile merges indexed by the time they were recorded (replicas list them in that order).
 */
export const SCHEMA_VERSION = 4;

const CREATE_EVENTS = `
CREATE TABLE events (
  source_id TEXT NOT NULL,
  id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  received_at INTEGER NOT NULL, -- server receive time, ms since the epoch
  body TEXT NOT NULL,
  PRIMARY KEY (source_id, id)
) WITHOUT ROWID;
CREATE INDEX events_by_profile ON events (profile_id, received_at, source_id, id);
CREATE INDEX events_by_session ON events (session_id, received_at, source_id, id);
CREATE INDEX events_by_received ON events (received_at, source_id, id);
`;

/** What each version from 2 on added, oldest first. */
const ADDED_SINCE = ['profile merges', 'profile merges by survivor', 'profile merges by time'];

const CREATE_VERSIONED = `
CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  last_session_id TEXT NOT NULL, last_source_id TEXT NOT NULL, version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, profile_id TEXT NOT NULL, source_id TEXT NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS profile_merges (
  from_id TEXT PRIMARY KEY, into_id TEXT NOT NULL, merged_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS profile_merges_by_into ON profile_merges (into_id, from_id);
CREATE INDEX IF NOT EXISTS profile_merges_by_time ON profile_merges (merged_at, from_id);
`;

/**
 * Brings the database file to SCHEMA_VERSION in one transaction and says what it did (empty
 * when it was current). A file of the schema before per-source ids is migrated: each event
 * keeps its body, and its source and receive time are read from it. A file of a newer
 * version is refused (CONFIG_INVALID), never downgraded.
 */
export function migrateSchema(db: DatabaseSync, path: string): string[] {
  const version = Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
  if (version === SCHEMA_VERSION) return [];
  if (version > SCHEMA_VERSION) {
    throw new SluiceError('CONFIG_INVALID', `${path} has event store schema version ${String(version)}, newer than this Sluice reads (${String(SCHEMA_VERSION)}): run the Sluice version that wrote it, or point DATA_DIR elsewhere`);
  }
  db.exec('BEGIN IMMEDIATE');
  try {
    const legacy = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'events'").get() !== undefined;
    // Versions 1 to 3 → 4 only add tables and indices (CREATE_VERSIONED, all IF NOT EXISTS).
    const done = version >= 1 ? [`event store schema ${String(version)} → ${String(SCHEMA_VERSION)}: ${ADDED_SINCE.slice(version - 1).join(', ')}`] : legacy ? migrateFromIdOnly(db) : createFresh(db);
    db.exec(CREATE_VERSIONED);
    db.exec(`PRAGMA user_version = ${String(SCHEMA_VERSION)}`);
    db.exec('COMMIT');
    return done;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

function createFresh(db: DatabaseSync): string[] {
  db.exec(CREATE_EVENTS);
  return [`created event store schema version ${String(SCHEMA_VERSION)}`];
}

/** Version 0 → 1: re-key every event by (source, id) and index it by receive time. */
function migrateFromIdOnly(db: DatabaseSync): string[] {
  db.exec('DROP INDEX IF EXISTS events_by_profile; DROP INDEX IF EXISTS events_by_session; DROP INDEX IF EXISTS events_by_time; ALTER TABLE events RENAME TO events_v0;');
  db.exec(CREATE_EVENTS);
  const insert = db.prepare('INSERT OR IGNORE INTO events (source_id, id, profile_id, session_id, received_at, body) VALUES (?, ?, ?, ?, ?, ?)');
  let moved = 0;
  for (const row of db.prepare('SELECT id, profile_id, session_id, body FROM events_v0').iterate() as Iterable<{ id: string; profile_id: string; session_id: string; body: string }>) {
    const event = JSON.parse(row.body) as { sourceId?: unknown; receivedAt?: unknown };
    const receivedAt = typeof event.receivedAt === 'string' ? Date.parse(event.receivedAt) : Number.NaN;
    insert.run(typeof event.sourceId === 'string' ? event.sourceId : '', row.id, row.profile_id, row.session_id, Number.isFinite(receivedAt) ? receivedAt : 0, row.body);
    moved += 1;
  }
  db.exec('DROP TABLE events_v0');
  return [`migrated ${String(moved)} events to event store schema version ${String(SCHEMA_VERSION)} (keyed by source and id, ordered by receive time)`];
}
