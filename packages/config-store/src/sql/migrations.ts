import { sql, type Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

/** The SQL dialects the config store runs on. */
export type SqlDialectName = 'mysql' | 'sqlite';

/**
 * The config store's schema, versioned and forward-only: one list for MySQL and the
 * embedded SQLite file, so that both keep the same model. A migration is never edited once
 * released; a change is a new entry (names sort in the order they run). Kysely's Migrator
 * records what ran in `kysely_migration` and, on MySQL, holds `GET_LOCK` while it runs, so
 * several processes migrating at once leave one schema.
 */
export function configMigrations(dialect: SqlDialectName): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_sources': { up: (db) => sources(db, dialect) },
    '0002_event_types_settings_revision': { up: (db) => eventTypesSettingsRevision(db, dialect) },
  };
  return { getMigrations: () => Promise.resolve(migrations) };
}

/**
 * Exact, case-sensitive text on MySQL (as SQLite compares), whatever the database's
 * default character set: ids are credentials.
 */
function tableOptions(dialect: SqlDialectName) {
  return dialect === 'mysql' ? sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin` : sql``;
}

/** Long JSON text: MySQL's TEXT holds only 64 KiB. */
const longText = (dialect: SqlDialectName) => (dialect === 'mysql' ? sql`mediumtext` : sql`text`);

/** The sources table as the embedded store created it before migrations existed (kept when present). */
async function sources(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  await db.schema
    .createTable('sources')
    .ifNotExists()
    .addColumn('id', 'varchar(128)', (column) => column.primaryKey())
    .addColumn('name', 'varchar(256)', (column) => column.notNull())
    .addColumn('enabled', 'integer', (column) => column.notNull())
    .addColumn('allowed_origins', longText(dialect), (column) => column.notNull())
    .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
    .addColumn('updated_at', 'varchar(32)', (column) => column.notNull())
    .modifyEnd(tableOptions(dialect))
    .execute();
}

async function eventTypesSettingsRevision(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  // One column per statement: SQLite adds one column per ALTER TABLE.
  await db.schema.alterTable('sources').addColumn('rate_limit', 'integer').execute();
  await db.schema.alterTable('sources').addColumn('allow_unknown_event_types', 'integer', (column) => column.notNull().defaultTo(1)).execute();
  await db.schema
    .createTable('event_types')
    .addColumn('name', 'varchar(128)', (column) => column.primaryKey())
    .addColumn('description', 'varchar(1024)', (column) => column.notNull().defaultTo(''))
    .addColumn('schema_json', longText(dialect))
    .addColumn('enabled', 'integer', (column) => column.notNull())
    .addColumn('on_invalid', 'varchar(16)', (column) => column.notNull())
    .addColumn('version', 'integer', (column) => column.notNull())
    .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
    .addColumn('updated_at', 'varchar(32)', (column) => column.notNull())
    .modifyEnd(tableOptions(dialect))
    .execute();
  await db.schema
    .createTable('settings')
    .addColumn('setting_key', 'varchar(128)', (column) => column.primaryKey())
    .addColumn('value_json', longText(dialect), (column) => column.notNull())
    .addColumn('updated_at', 'varchar(32)', (column) => column.notNull())
    .modifyEnd(tableOptions(dialect))
    .execute();
  // One row: raised after every change of a source or an event type (ConfigStore.revision).
  await db.schema
    .createTable('config_revision')
    .addColumn('id', 'integer', (column) => column.primaryKey())
    .addColumn('revision', 'bigint', (column) => column.notNull())
    .modifyEnd(tableOptions(dialect))
    .execute();
  await sql`INSERT INTO config_revision (id, revision) VALUES (1, 0)`.execute(db);
}
