// Test support for the MySQL adapter (exported as `@sluice/config-store/mysql-testing`, for
// tests only): a database of its own per test run on the engines' MariaDB, and a MariaDB
// server of a test's own that outage tests may stop and start without disturbing others.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { engineEnv, freePort, randomName, waitFor } from '@sluice/testkit';
import type { MysqlPoolSettings } from './tuned-pool.ts';

/** Pool settings for `database` on the engines' MariaDB, with small, test-friendly figures. */
export function mysqlTestSettings(database: string, overrides: Partial<MysqlPoolSettings> = {}): MysqlPoolSettings {
  const env = engineEnv('mariadb');
  return {
    host: env['MYSQL_HOST']!,
    port: Number(env['MYSQL_PORT']),
    database,
    username: env['MYSQL_USERNAME']!,
    password: env['MYSQL_PASSWORD'],
    poolSize: 5,
    maxOverflow: 2,
    poolTimeoutMs: 3000,
    recycleMs: 1_800_000,
    queryTimeoutMs: 5000,
    tls: { enabled: false, caFile: undefined, verify: true },
    ...overrides,
  };
}

/** The environment (MYSQL_*) that points a Sluice process at `settings`. */
export function mysqlEnv(settings: MysqlPoolSettings): Record<string, string> {
  return { CONFIG_ADAPTER: 'mysql', MYSQL_HOST: settings.host, MYSQL_PORT: String(settings.port), MYSQL_DATABASE: settings.database, MYSQL_USERNAME: settings.username, MYSQL_PASSWORD: settings.password ?? '' };
}

/** A new, empty database `sluice_<random>` on the engines' MariaDB (the test user may create those), and its removal. */
export async function createTestDatabase(): Promise<{ readonly database: string; drop(): Promise<void> }> {
  const database = randomName('sluice_t');
  await adminQuery(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`);
  return { database, drop: () => adminQuery(`DROP DATABASE IF EXISTS \`${database}\``) };
}

async function adminQuery(statement: string): Promise<void> {
  const settings = mysqlTestSettings('sluice');
  const connection = await createConnection({ host: settings.host, port: settings.port, user: settings.username, ...(settings.password === undefined ? {} : { password: settings.password }) });
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}

/** A MariaDB server of the test's own, on a free port, with the engines' binaries. */
export interface OwnMariaDb {
  readonly settings: MysqlPoolSettings;
  /** Starts the server (again) on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it at once (SIGKILL), as a crash or a network cut would look to clients. */
  kill(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

const SQL_USER = 'sluice';
const SQL_PASSWORD = 'own-mariadb-password';

/**
 * Initialises a data directory (mariadb-install-db), starts `mariadbd` on loopback on a
 * free port, and creates a database and user for the test. Pool settings overrides apply.
 */
export async function startOwnMariaDb(overrides: Partial<MysqlPoolSettings> = {}): Promise<OwnMariaDb> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-mariadb-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const port = await freePort();
  const installed = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db'], { encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`mariadb-install-db failed: ${installed.stderr}`);
  let server: ChildProcess | undefined;
  const settings: MysqlPoolSettings = { ...mysqlTestSettings('sluice'), host: '127.0.0.1', port, username: SQL_USER, password: SQL_PASSWORD, ...overrides };
  const rootSql = (statement: string) => spawnSync('mariadb', ['--no-defaults', '--protocol=socket', `--socket=${socket}`, '-u', 'root', '-N', '-e', statement], { encoding: 'utf8' });
  const start = async () => {
    server = spawn('mariadbd', ['--no-defaults', `--datadir=${data}`, `--port=${String(port)}`, '--bind-address=127.0.0.1', `--socket=${socket}`, `--pid-file=${join(dir, 'mariadbd.pid')}`, '--user=root', `--log-error=${join(dir, 'error.log')}`, '--skip-name-resolve', '--innodb-buffer-pool-size=32M', '--max-connections=200'], { stdio: 'ignore' });
    await waitFor(() => rootSql('SELECT 1').stdout.trim() === '1', 60_000, () => `own mariadbd on ${String(port)} did not answer`);
  };
  const kill = async () => {
    const child = server;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  const created = rootSql(
    [
      `CREATE DATABASE IF NOT EXISTS \`${settings.database}\` CHARACTER SET utf8mb4`,
      `CREATE USER IF NOT EXISTS '${SQL_USER}'@'127.0.0.1' IDENTIFIED BY '${SQL_PASSWORD}'`,
      `GRANT ALL PRIVILEGES ON \`${settings.database}\`.* TO '${SQL_USER}'@'127.0.0.1'`,
    ].join('; '),
  );
  if (created.status !== 0) throw new Error(`could not create the test database and user: ${created.stderr}`);
  return {
    settings,
    start,
    kill,
    destroy: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
