// The full production stack on this machine, through the project's own scripts: the engines
// (`npm run engines:up`: Elasticsearch, Pulsar, Redis, MariaDB), `sluice init`, then storage
// workers and API replicas as separate processes, each with its own DATA_DIR and its own
// Elasticsearch role, all on a fresh Pulsar namespace, Elasticsearch tenant and MySQL
// database, so a run never sees another's data and leaves none behind. Each Sluice process
// runs in a session of its own, as the engines do: Linux's autogroup scheduling shares the
// cores between sessions first, and the API replicas, the workers and the load generator in
// one session got one share between them, lagging whenever an engine was busy.
import { readFileSync } from 'node:fs';
import { createTestDatabase } from '@sluice/config-store/mysql-testing';
import { ElasticStore } from '@sluice/store';
import { engineEnv, randomName, runEngines, runSluice, startSluice, tempDir, type SluiceProcess } from '@sluice/testkit';

export interface StackOptions {
  readonly apiReplicas: number;
  readonly workers: number;
  /** Partitions of the events topic (PULSAR_TOPIC_PARTITIONS). */
  readonly partitions: number;
  /** More Sluice settings, for every process. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface Stack {
  readonly apis: readonly SluiceProcess[];
  readonly workers: readonly SluiceProcess[];
  /** The source the load uses (created by the run, without a rate limit). */
  readonly sourceId: string;
  readonly adminToken: string;
  /** The Sluice settings every process got, secrets left out. */
  readonly settings: Readonly<Record<string, string>>;
  /** The Elasticsearch index prefix of this run (`<tenant>-`). */
  readonly indexPrefix: string;
  /** Stops every process and removes the run's namespace, indices and database. */
  stop(): Promise<void>;
}

const ENGINES = ['elasticsearch', 'pulsar', 'redis', 'mariadb'] as const;
const SECRET = /PASSWORD|TOKEN|API_KEY/;

export async function startProductionStack(options: StackOptions): Promise<Stack> {
  runEngines('up', ENGINES);
  const es = engineEnv('elasticsearch');
  const pulsar = engineEnv('pulsar');
  const redis = engineEnv('redis');
  const mariadb = engineEnv('mariadb');
  const tenant = randomName('cap');
  const namespace = randomName('capacity-');
  const adminToken = randomName('capacity-admin-');
  const database = await createTestDatabase();
  const cleanups: (() => Promise<unknown>)[] = [() => database.drop()];
  const processes: SluiceProcess[] = [];
  // Its processes run in sessions of their own, out of reach of a Ctrl-C: stopped here on one.
  const onSignal = (signal: NodeJS.Signals) => void stop().finally(() => process.kill(process.pid, signal));
  const stop = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const running of processes.splice(0).reverse()) await running.stop().catch(() => undefined);
    await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' }).catch(() => undefined);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const settings: Record<string, string> = {
      ...es,
      ...redis,
      LOGGING_LEVEL: 'warning',
      ADMIN_TOKEN: adminToken,
      TENANT_NAME: tenant,
      BUS_ADAPTER: 'pulsar',
      PULSAR_WEB_HOST: pulsar['PULSAR_WEB_HOST']!,
      PULSAR_NAMESPACE: namespace,
      PULSAR_TOPIC_PARTITIONS: String(options.partitions),
      STORE_ADAPTER: 'elasticsearch',
      // One Elasticsearch node here: replicas would never be assigned.
      ELASTIC_INDEX_REPLICAS: '0',
      CACHE_ADAPTER: 'redis',
      CONFIG_ADAPTER: 'mysql',
      MYSQL_HOST: mariadb['MYSQL_HOST']!,
      MYSQL_PORT: mariadb['MYSQL_PORT']!,
      MYSQL_DATABASE: database.database,
      MYSQL_USERNAME: mariadb['MYSQL_USERNAME']!,
      MYSQL_PASSWORD: mariadb['MYSQL_PASSWORD']!,
      ...options.settings,
    };
    for (const name of Object.keys(settings)) if (name.startsWith('SLUICE_') || name.startsWith('ELASTIC_SNAPSHOT')) delete settings[name];
    const dataDir = async () => {
      const { dir, cleanup } = await tempDir('sluice-capacity-');
      cleanups.push(cleanup);
      return dir;
    };
    // Each process as its own Elasticsearch role (deploy/elasticsearch/roles.yml).
    const as = (role: string) => ({ ELASTIC_HTTP_AUTH_USERNAME: es[`SLUICE_${role}_USERNAME`]! });
    const init = await runSluice(['init'], { ...settings, ...as('INIT'), DATA_DIR: await dataDir() });
    if (init.code !== 0) throw new Error(`sluice init failed:\n${init.output}`);
    cleanups.push(async () => {
      const store = new ElasticStore({ nodes: [es['ELASTIC_HOST']!], username: es['ELASTIC_HTTP_AUTH_USERNAME']!, password: es['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: es['ELASTIC_CA_FILE']!, verifyCerts: true, maxConnections: 1, requestTimeoutMs: 60_000, compression: false, prefix: `${tenant}-`, shards: 1, replicas: 0, refreshInterval: '1s' });
      await store.dropAll();
      await store.close();
    });
    const sourceId = 'capacity';
    const added = await runSluice(['sources', 'add', sourceId, '--name', 'Capacity run'], { ...settings, ...as('INIT'), DATA_DIR: await dataDir() });
    if (added.code !== 0) throw new Error(`sluice sources add failed:\n${added.output}`);
    const own = { ownSession: true };
    for (let n = 0; n < options.workers; n += 1) processes.push(await startSluice('worker', { ...settings, ...as('WRITER'), DATA_DIR: await dataDir() }, 120_000, own));
    const apis: SluiceProcess[] = [];
    for (let n = 0; n < options.apiReplicas; n += 1) apis.push(await startSluice('api', { ...settings, ...as('READER'), DATA_DIR: await dataDir() }, 120_000, own));
    processes.push(...apis);
    const shown = Object.fromEntries(Object.entries(settings).filter(([name]) => !SECRET.test(name)));
    return { apis, workers: processes.filter((running) => !apis.includes(running)), sourceId, adminToken, settings: shown, indexPrefix: `${tenant}-`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** CPU time `pids` have used so far (user + system), in seconds (Linux /proc); a process gone counts 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
      // After the command's closing parenthesis: state, ppid, pgrp, ... utime (12th), stime (13th).
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited meanwhile
    }
  }
  // Clock ticks: 100 a second on Linux.
  return ticks / 100;
}
