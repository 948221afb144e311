// Redis and MariaDB from Debian's packages, each started on loopback with its own data
// directory, port and test credentials (never the services a package may have started).
import { existsSync, writeFileSync } from 'node:fs';
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

// Redis Sentinel: a primary and a replica, watched by three sentinels (quorum 2), all on
// loopback. No persistence: it is a cache. Each `up` that finds it not fully running starts
// the whole set afresh (primary on SENTINEL_PRIMARY_PORT), so a failover left over from a test
// never confuses the next start.
const SENTINEL_MASTER = 'sluice-cache';
const SENTINEL_PRIMARY_PORT = 16380;
const SENTINEL_REPLICA_PORT = 16381;
const SENTINEL_PORTS = [26380, 26381, 26382] as const;
const SENTINEL_NODES = ['primary', 'replica', 'sentinel-1', 'sentinel-2', 'sentinel-3'] as const;

const sentinelDir = () => engineDir('redis-sentinel');
const sentinelNodePid = (node: string) => join(sentinelDir(), `${node}.pid`);

function cli(port: number, args: readonly string[], password?: string): string {
  return run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', ...(password === undefined ? [] : ['-a', password]), ...args]).trim();
}

/** Ready: a quorum of sentinels agrees on a primary that answers, with a replica linked to it. */
function sentinelSetReady(): Promise<boolean> {
  try {
    if (!cli(SENTINEL_PORTS[0], ['sentinel', 'ckquorum', SENTINEL_MASTER]).startsWith('OK')) return Promise.resolve(false);
    const [, port] = cli(SENTINEL_PORTS[0], ['sentinel', 'get-master-addr-by-name', SENTINEL_MASTER]).split('\n');
    const replication = cli(Number(port), ['info', 'replication'], REDIS_PASSWORD);
    return Promise.resolve(replication.includes('role:master') && replication.includes('connected_slaves:1') && /slave0:.*state=online/.test(replication));
  } catch {
    return Promise.resolve(false);
  }
}

export const redisSentinel: Engine = {
  name: 'redis-sentinel',
  description: `Redis Sentinel (Debian's redis-server): primary 127.0.0.1:${String(SENTINEL_PRIMARY_PORT)}, replica :${String(SENTINEL_REPLICA_PORT)}, sentinels :${SENTINEL_PORTS.join(', :')} watching "${SENTINEL_MASTER}" (quorum 2), password auth, no persistence`,

  async install() {
    await aptInstall(['redis-server', 'redis-tools']);
  },

  async up() {
    if (SENTINEL_NODES.every((node) => alive(readPid(sentinelNodePid(node)))) && (await sentinelSetReady())) return;
    await this.install();
    await this.down();
    for (const port of [SENTINEL_PRIMARY_PORT, SENTINEL_REPLICA_PORT, ...SENTINEL_PORTS]) {
      if (await portOpen(port)) throw new Error(`port ${String(port)} is taken by a process that is not Sluice's Redis Sentinel`);
    }
    const dir = ensureDir(sentinelDir());
    const logFile = (node: string) => join(dir, `${node}.log`);
    const server = (node: string, port: number, extra: readonly string[]) => startDetached('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', ensureDir(join(dir, node)), '--requirepass', REDIS_PASSWORD, '--masterauth', REDIS_PASSWORD,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '', '--maxmemory-policy', 'allkeys-lru', ...extra,
    ], sentinelNodePid(node), logFile(node));
    log('starting redis primary, replica and three sentinels');
    const primary = server('primary', SENTINEL_PRIMARY_PORT, []);
    server('replica', SENTINEL_REPLICA_PORT, ['--replicaof', '127.0.0.1', String(SENTINEL_PRIMARY_PORT)]);
    SENTINEL_PORTS.forEach((port, index) => {
      const node = `sentinel-${String(index + 1)}`;
      // Sentinel rewrites its configuration file (discovered peers, failovers): one each, fresh.
      const conf = join(ensureDir(join(dir, node)), 'sentinel.conf');
      writeFileSync(conf, [
        `port ${String(port)}`, 'bind 127.0.0.1', 'daemonize no', `dir ${join(dir, node)}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${String(SENTINEL_PRIMARY_PORT)} 2`,
        `sentinel auth-pass ${SENTINEL_MASTER} ${REDIS_PASSWORD}`,
        // Fast for tests: a primary silent for 2 s is down; a failover may take 10 s.
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 2000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 10000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'));
      startDetached('redis-server', [conf, '--sentinel'], sentinelNodePid(node), logFile(node));
    });
    await waitUntil('redis-sentinel', sentinelSetReady, 60_000, logFile('sentinel-1'), primary);
  },

  async down() {
    await Promise.all(SENTINEL_NODES.map((node) => stopGroup(sentinelNodePid(node))));
  },

  async status(): Promise<Status> {
    const pids = SENTINEL_NODES.map((node) => readPid(sentinelNodePid(node)));
    const up = pids.filter((pid) => alive(pid)).length;
    if (up === 0) return { running: false, detail: 'stopped' };
    const ok = up === SENTINEL_NODES.length && (await sentinelSetReady());
    const rss = pids.reduce<number>((total, pid) => total + (pid !== undefined && alive(pid) ? rssOfGroup(pid) : 0), 0);
    return { running: ok, detail: ok ? 'sentinels agree on a primary with its replica online' : `${String(up)} of ${String(SENTINEL_NODES.length)} processes up, not ready`, rssBytes: rss };
  },

  env(): Env {
    return {
      REDIS_HOST: `redis://127.0.0.1:${String(SENTINEL_PRIMARY_PORT)}`,
      REDIS_PASSWORD,
      REDIS_SENTINELS: SENTINEL_PORTS.map((port) => `127.0.0.1:${String(port)}`).join(','),
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
    };
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
