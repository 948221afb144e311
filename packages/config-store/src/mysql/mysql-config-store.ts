import { Kysely, MysqlDialect } from 'kysely';
import { SluiceError } from '@sluice/core';
import { migrateConfigStore, pendingMigrations } from '../sql/migrate.ts';
import { SqlConfigStore, type ConfigTables, type SqlEngine } from '../sql/sql-config-store.ts';
import { TunedMysqlPool, type MysqlPoolSettings, type PoolObserver } from './tuned-pool.ts';

/** MySQL's error number for a duplicate key (ER_DUP_ENTRY). */
const ER_DUP_ENTRY = 1062;

/**
 * The ConfigStore on MySQL 8 or MariaDB through one tuned pool (TunedMysqlPool), shared by
 * every replica. Opening it neither connects nor migrates: `migrate()` is `sluice init`'s
 * (and the all-in-one's); a replica reads what init created.
 */
export class MysqlConfigStore extends SqlConfigStore {
  readonly pool: TunedMysqlPool;
  private readonly kysely: Kysely<ConfigTables>;

  constructor(settings: MysqlPoolSettings, observer?: PoolObserver) {
    const pool = new TunedMysqlPool(settings, observer);
    const db = new Kysely<ConfigTables>({ dialect: new MysqlDialect({ pool }) });
    super(db, mysqlEngine(pool, settings));
    this.pool = pool;
    this.kysely = db;
  }

  /** Runs the pending migrations (see migrateConfigStore); the names of those it ran. */
  async migrate(): Promise<string[]> {
    try {
      return await migrateConfigStore(this.kysely as Kysely<unknown>, 'mysql');
    } catch (error) {
      throw classifyMysqlError(error);
    }
  }

  /** The migrations `sluice init` has not run yet (empty: up to date). */
  async pendingMigrations(): Promise<string[]> {
    try {
      return await pendingMigrations(this.kysely as Kysely<unknown>, 'mysql');
    } catch (error) {
      throw classifyMysqlError(error);
    }
  }
}

function mysqlEngine(pool: TunedMysqlPool, settings: MysqlPoolSettings): SqlEngine {
  return {
    adapter: 'mysql',
    isDuplicateKey: (error) => (error as { errno?: unknown }).errno === ER_DUP_ENTRY,
    classify: classifyMysqlError,
    detail: () => ({ host: settings.host, port: settings.port, database: settings.database, pool: pool.stats() }),
  };
}

/**
 * A MySQL failure as a SluiceError: POOL_TIMEOUT as it is; a server that cannot be reached,
 * a dropped connection or a query timeout as retryable CONFIG_UNAVAILABLE; anything else
 * (SQL the server refuses: a bug or a missing migration) as CONFIG_UNAVAILABLE, not retryable.
 */
export function classifyMysqlError(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  const unreachable = typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|PROTOCOL_|ER_CON_COUNT_ERROR|ER_SERVER_SHUTDOWN|ER_TOO_MANY_USER_CONNECTIONS)/.test(code);
  const closed = /Pool is closed|closed state|Connection lost|Can't add new command/i.test(text);
  if (code === 'ER_NO_SUCH_TABLE') return new SluiceError('CONFIG_UNAVAILABLE', `the config store is not migrated (${text}): run \`sluice init\``, { cause: error, retryable: true });
  return new SluiceError('CONFIG_UNAVAILABLE', `MySQL could not answer: ${text}`, { cause: error, retryable: unreachable || closed });
}
