// Redis and MariaDB from Debian's packages, each started on loopback with its own data
// directory, port and test credentials (never the services a package may have started).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { alive, aptInstall, engineDir, ensureDir, log, portOpen, readPid, rssOfGroup, run, startDetached, stopGroup, waitUntil, type Engine, type Env, type Status } from './lib.ts';

const REDIS_PORT = 16379;
const REDIS_PASSWORD = 'sluice-engines-password';
const MYSQL_PORT = 13306;
const MYSQL_DATABASE = 'sluice';
const MYSQL_USERNAME = 'sluice';
const MYSQL_PASSWORD = 'sluice-engines-password';

const redisDir = () => engineDir('redis');
const redisPid = () => join(redisDir(), 'redis.pid');

function redisPing(): Promise<boolean> {
  try {
    return Promise.resolve(run('redis-cli', ['-h', '127.0.0.1', '-p', String(REDIS_PORT), '--no-auth-warning', '-a', REDIS_PASSWORD, 'ping']).trim() === 'PONG');
  } catch {
    return Promise.resolve(false);
  }
}

export const redis: Engine = {
  name: 'redis',
  description: `Redis (Debian's redis-server), redis://127.0.0.1:${String(REDIS_PORT)}, password auth, append-only file`,

  async install() {
    await aptInstall(['redis-server', 'redis-tools']);
  },

  async up() {
    if (alive(readPid(redisPid())) && (await redisPing())) return;
    await this.install();
    await stopGroup(redisPid());
    if (await portOpen(REDIS_PORT)) throw new Error(`port ${String(REDIS_PORT)} is taken by a process that is not Sluice's Redis`);
    const data = ensureDir(join(redisDir(), 'data'));
    const logFile = join(redisDir(), 'redis.log');
    log('starting redis');
    const pid = startDetached('redis-server', [
      '--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--dir', data, '--requirepass', REDIS_PASSWORD,
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--logfile', '',
      // BullMQ needs keys never evicted.
      '--maxmemory-policy', 'noeviction',
    ], redisPid(), logFile);
    await waitUntil('redis', redisPing, 30_000, logFile, pid);
  },

  async down() {
    await stopGroup(redisPid());
  },

  async status(): Promise<Status> {
    const pid = readPid(redisPid());
    if (!alive(pid)) return { running: false, detail: 'stopped' };
    const ok = await redisPing();
    return { running: ok, detail: ok ? 'answering PING' : 'process up, not answering', rssBytes: rssOfGroup(pid ?? 0) };
  },

  env(): Env {
    return { REDIS_HOST: `redis://127.0.0.1:${String(REDIS_PORT)}`, REDIS_PASSWORD };
  },
};

const mariaDir = () => engineDir('mariadb');
const mariaPid = () => join(mariaDir(), 'mariadb.pid');
const socket = () => join(mariaDir(), 'mysqld.sock');

function sql(statement: string): string {
  return run('mariadb', ['--no-defaults', '--protocol=socket', `--socket=${socket()}`, '-u', 'root', '-N', '-e', statement]);
}

function mariaReady(): Promise<boolean> {
  try {
    return Promise.resolve(sql('SELECT 1').trim() === '1');
  } catch {
    return Promise.resolve(false);
  }
}

export const mariadb: Engine = {
  name: 'mariadb',
  description: `MariaDB (Debian's mariadb-server), 127.0.0.1:${String(MYSQL_PORT)}, database ${MYSQL_DATABASE}`,

  async install() {
    await aptInstall(['mariadb-server']);
  },

  async up() {
    if (alive(readPid(mariaPid())) && (await mariaReady())) return;
    await this.install();
    await stopGroup(mariaPid());
    if (await portOpen(MYSQL_PORT)) throw new Error(`port ${String(MYSQL_PORT)} is taken by a process that is not Sluice's MariaDB`);
    const data = join(mariaDir(), 'data');
    const logFile = join(mariaDir(), 'mariadb.log');
    if (!existsSync(join(data, 'mysql'))) {
      ensureDir(data);
      log('initialising the MariaDB data directory');
      run('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db']);
    }
    log('starting mariadb');
    const pid = startDetached('mariadbd', [
      '--no-defaults', `--datadir=${data}`, `--port=${String(MYSQL_PORT)}`, '--bind-address=127.0.0.1', `--socket=${socket()}`,
      `--pid-file=${join(mariaDir(), 'mariadbd.pid')}`, '--user=root', `--log-error=${logFile}`, '--skip-name-resolve',
      '--innodb-buffer-pool-size=128M', '--max-connections=500',
    ], mariaPid(), join(mariaDir(), 'stdout.log'));
    await waitUntil('mariadb', mariaReady, 60_000, logFile, pid);
    // Test credentials; the user may also create `sluice_*` databases (one per test).
    sql([
      `CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\``,
      ...['127.0.0.1', 'localhost'].flatMap((host) => [
        `CREATE USER IF NOT EXISTS '${MYSQL_USERNAME}'@'${host}' IDENTIFIED BY '${MYSQL_PASSWORD}'`,
        `GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_USERNAME}'@'${host}'`,
        `GRANT ALL PRIVILEGES ON \`sluice\\_%\`.* TO '${MYSQL_USERNAME}'@'${host}'`,
      ]),
    ].join('; '));
  },

  async down() {
    await stopGroup(mariaPid(), 30_000);
  },

  async status(): Promise<Status> {
    const pid = readPid(mariaPid());
    if (!alive(pid)) return { running: false, detail: 'stopped' };
    const ok = await mariaReady();
    return { running: ok, detail: ok ? 'answering SQL' : 'process up, not answering', rssBytes: rssOfGroup(pid ?? 0) };
  },

  env(): Env {
    return { MYSQL_HOST: '127.0.0.1', MYSQL_PORT: String(MYSQL_PORT), MYSQL_DATABASE, MYSQL_USERNAME, MYSQL_PASSWORD };
  },
};
