import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '@sluice/config';
import { checkEnvFile, readEnvFile } from './config-check.ts';
import { CPU_UTILISATION, size, type SizeInput, type Sizing } from './sizing/model.ts';
import { newestResults, readResults, type CapacityResults } from './sizing/results.ts';

interface SizeOptions {
  eventsPerSecond: number;
  eventBytes?: number;
  retentionDays?: number;
  replicas?: number;
  busRetentionDays?: number;
  busCopies: number;
  apiCores: number;
  workerCores: number;
  nodeCores: number;
  nodeDiskGb: number;
  eventsPerSession: number;
  envFile?: string;
  results?: string;
  json?: boolean;
}

const DAY_MS = 86_400_000;
const GB = 1024 ** 3;

function positiveNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('a number above 0');
  return value;
}

function wholeNumber(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError('a whole number, 0 or more');
  return value;
}

/**
 * `sluice size`: the resources a peak load needs, from the per-event costs measured by the
 * newest committed capacity run (load-tests/results) and the settings of an env profile
 * (`--env-file`) or Sluice's defaults; flags override both. A table, or `--json`.
 */
export function registerSize(program: Command, print: (line: string) => void): void {
  program
    .command('size')
    .description('size a deployment for a peak load from measured per-event costs (npm run load:capacity)')
    .requiredOption('--events-per-second <n>', 'peak events per second', positiveNumber)
    .option('--event-bytes <n>', 'average bytes of one event as sent (default: the capacity run\'s)', positiveNumber)
    .option('--retention-days <n>', 'days events are kept (default: EVENTS_RETENTION)', positiveNumber)
    .option('--replicas <n>', 'Elasticsearch replicas of each shard (default: ELASTIC_INDEX_REPLICAS)', wholeNumber)
    .option('--bus-retention-days <n>', 'days Pulsar keeps acknowledged messages (default: PULSAR_RETENTION)', wholeNumber)
    .option('--bus-copies <n>', 'copies of each Pulsar entry (the bookies\' write quorum)', positiveNumber, 2)
    .option('--api-cores <n>', 'CPU cores of one API replica', positiveNumber, 1)
    .option('--worker-cores <n>', 'CPU cores of one storage worker', positiveNumber, 1)
    .option('--node-cores <n>', 'CPU cores of one Elasticsearch data node', positiveNumber, 8)
    .option('--node-disk-gb <n>', 'disk of one Elasticsearch data node, GiB', positiveNumber, 2048)
    .option('--events-per-session <n>', 'events of one visitor session on average', positiveNumber, 10)
    .option('--env-file <file>', 'take retention, replicas, lifecycle, cache TTLs and pool sizes from this env profile (e.g. env/medium.env)')
    .option('--results <file>', 'the capacity results to size from (default: the newest in load-tests/results)')
    .option('--json', 'print JSON instead of a table')
    .action((options: SizeOptions) => {
      const { file, results } = options.results === undefined ? newestResults() : { file: options.results, results: readResults(options.results) };
      const config = options.envFile === undefined ? loadConfig({}) : checkEnvFile(readEnvFile(options.envFile));
      const input = sizeInput(options, config, results);
      const sizing = size(input, results.coefficients);
      if (options.json === true) print(JSON.stringify({ input, sizing, measured: { file, date: results.date, machine: results.machine, figures: results.figures } }, null, 2));
      else for (const line of render(input, sizing, file, results)) print(line);
    });
}

/** The model's input: flags, else the env profile's (or default) settings, else the capacity run's figures. */
export function sizeInput(options: SizeOptions, config: Config, results: CapacityResults): SizeInput {
  const retentionDays = options.retentionDays ?? config.lifecycle.retentionMs / DAY_MS;
  if (retentionDays <= 0) throw new InvalidArgumentError('events are kept forever (EVENTS_RETENTION=0): give --retention-days, or an --env-file with a retention');
  const mysql = config.configStore.mysql;
  return {
    eventsPerSecond: options.eventsPerSecond,
    eventBytes: options.eventBytes ?? results.coefficients.eventBytes,
    retentionDays,
    warmAfterDays: config.elasticLifecycle.warmAfterMs / DAY_MS,
    coldAfterDays: config.elasticLifecycle.coldAfterMs / DAY_MS,
    replicas: options.replicas ?? config.elastic.replicas,
    busRetentionDays: options.busRetentionDays ?? config.pulsar.retentionMinutes / (24 * 60),
    busCopies: options.busCopies,
    apiCores: options.apiCores,
    workerCores: options.workerCores,
    nodeCores: options.nodeCores,
    nodeDiskBytes: options.nodeDiskGb * GB,
    eventsPerSession: options.eventsPerSession,
    sessionTtlSeconds: config.cache.sessionTtlSeconds,
    profileTtlSeconds: config.cache.profileTtlSeconds,
    poolSize: mysql.poolSize,
    poolOverflow: mysql.maxOverflow,
  };
}

const bytes = (value: number) => (value >= 1024 ** 4 ? `${(value / 1024 ** 4).toFixed(1)} TiB` : value >= GB ? `${(value / GB).toFixed(1)} GiB` : `${(value / 1024 ** 2).toFixed(0)} MiB`);

function render(input: SizeInput, sizing: Sizing, file: string, results: CapacityResults): string[] {
  const rows: [string, string, string][] = [
    ['API replicas', String(sizing.apiReplicas), `${String(input.apiCores)} core(s) each, sized to ${String(CPU_UTILISATION * 100)} % CPU at peak`],
    ['storage workers', String(sizing.workers), `${String(input.workerCores)} core(s) each`],
    ['Pulsar partitions', String(sizing.partitions), 'PULSAR_TOPIC_PARTITIONS (events topic)'],
    ['Pulsar storage', bytes(sizing.busStorageBytes), `${String(input.busRetentionDays)} d retention × ${String(input.busCopies)} copies`],
    ['Pulsar backlog an hour', bytes(sizing.busBytesPerHour), 'while the store is away; PULSAR_RETENTION_SIZE ≥ the hours to ride out × this'],
    ['primary shards per index', String(sizing.primaryShards), `ELASTIC_INDEX_SHARDS, daily indices (ELASTIC_ROLLOVER_MAX_AGE=1d) of ${bytes(sizing.dailyPrimaryBytes)}`],
    ['hot data nodes', String(sizing.hot.dataNodes), `${bytes(sizing.hot.diskBytes)} for ${String(sizing.hot.days)} d, ${String(input.replicas)} replica(s), 85 % watermark`],
    ['warm data nodes', String(sizing.warm.dataNodes), `${bytes(sizing.warm.diskBytes)} for ${String(sizing.warm.days)} d`],
    ['cold data nodes', String(sizing.cold.dataNodes), `${bytes(sizing.cold.diskBytes)} for ${String(sizing.cold.days)} d`],
    ['Redis memory', bytes(sizing.redisMemoryBytes), `sessions and profiles within KEEP_SESSION_IN_CACHE_FOR + KEEP_PROFILE_IN_CACHE_FOR`],
    ['MySQL connections', String(sizing.mysqlConnections), `pool ${String(input.poolSize)} + overflow ${String(input.poolOverflow)} per process; max_connections ≥ ${String(sizing.mysqlMaxConnections)}`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const value = Math.max(...rows.map(([, shown]) => shown.length));
  return [
    `Sizing for ${String(input.eventsPerSecond)} events/s at peak, ${String(input.eventBytes)} bytes an event, ${String(input.retentionDays)} d retention`,
    '',
    ...rows.map(([name, shown, note]) => `${name.padEnd(width)}  ${shown.padStart(value)}  ${note}`),
    '',
    `Per-event costs measured by ${file} (${results.date}, ${String(results.machine.cores)} cores: ${String(results.figures.eventsPerSecond)} events/s held for ${String(results.figures.sustainedSeconds)} s at p99 ${String(results.figures.p99Ms)} ms).`,
  ];
}
