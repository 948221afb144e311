import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseSync } from 'node:sqlite';
import { Kysely } from 'kysely';
import { SluiceError } from '@sluice/core';
import { migrateConfigStore } from '../sql/migrate.ts';
import { SqlConfigStore, type ConfigTables, type SqlEngine } from '../sql/sql-config-store.ts';
import { nodeSqliteDialect } from './node-sqlite-dialect.ts';

/** Attempts at migrating a file another process is migrating at the same moment. */
const MIGRATE_ATTEMPTS = 5;

/**
 * The embedded ConfigStore: a SQLite file under DATA_DIR, shared safely with the CLI (WAL,
 * busy timeout). Same model and migrations as MySQL; the file migrates itself when opened.
 */
export class SqliteConfigStore extends SqlConfigStore {
  /** Opens (creating when missing) and migrates the file at `path` (`:memory:` for tests). */
  static async open(path: string): Promise<SqliteConfigStore> {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const database = new DatabaseSync(path);
    database.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
    const db = new Kysely<ConfigTables>({ dialect: nodeSqliteDialect(database) });
    try {
      await migrateWithRetries(db);
    } catch (error) {
      await db.destroy();
      throw error;
    }
    return new SqliteConfigStore(db, sqliteEngine(path));
  }
}

/**
 * Two processes (or two stores) opening a new file at once: both may read "nothing ran yet";
 * one commits, the other's transaction fails (busy, or the migration already recorded) and
 * is rolled back. It tries again and finds the schema migrated. A migration that really
 * fails fails every attempt, and its error is thrown.
 */
async function migrateWithRetries(db: Kysely<ConfigTables>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await migrateConfigStore(db as Kysely<unknown>, 'sqlite');
      return;
    } catch (error) {
      if (attempt >= MIGRATE_ATTEMPTS) throw error;
      await sleep(50 * attempt);
    }
  }
}

function sqliteEngine(path: string): SqlEngine {
  return {
    adapter: 'embedded',
    isDuplicateKey: (error) => /UNIQUE constraint failed|PRIMARYKEY/i.test(String((error as { message?: unknown }).message ?? error)),
    classify: (error) => new SluiceError('CONFIG_UNAVAILABLE', `the embedded config store failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retryable: false }),
    detail: () => ({ path }),
  };
}
