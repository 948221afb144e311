import type { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { SluiceError } from '@sluice/core';
import { configMigrations, type SqlDialectName } from './migrations.ts';

/** Where Kysely records the migrations that ran, and its lock row. */
const MIGRATION_TABLES = { migrationTableName: 'config_migration', migrationLockTableName: 'config_migration_lock' } as const;

/**
 * Runs every pending migration of the config store (forward only). Safe from several
 * processes at once: on MySQL, Kysely's Migrator holds `GET_LOCK` for the run; on SQLite,
 * the run is one transaction. Returns the names of the migrations this call ran (empty:
 * already up to date). Throws CONFIG_UNAVAILABLE naming the migration that failed.
 */
export async function migrateConfigStore(db: Kysely<unknown>, dialect: SqlDialectName): Promise<string[]> {
  const migrator = new Migrator({ db, provider: configMigrations(dialect), ...MIGRATION_TABLES });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    throw new SluiceError('CONFIG_UNAVAILABLE', `config store migration${failed === undefined ? '' : ` ${failed}`} failed: ${reason}`, { cause: error });
  }
  return results.filter((result) => result.status === 'Success').map((result) => result.migrationName);
}

/** The migrations not yet run (read-only; a replica's check that `sluice init` ran). */
export async function pendingMigrations(db: Kysely<unknown>, dialect: SqlDialectName): Promise<string[]> {
  const migrator = new Migrator({ db, provider: configMigrations(dialect), ...MIGRATION_TABLES });
  return (await migrator.getMigrations()).filter((migration) => migration.executedAt === undefined).map((migration) => migration.name);
}
