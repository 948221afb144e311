// `npm run engines:up|down|status [-- shape…]`: real engines on a machine without Docker,
// from the registries it reaches (Maven Central, Debian, npm).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { elasticsearch, elasticsearchCluster } from './elasticsearch.ts';
import { mariadb, redis, redisSentinel } from './debian.ts';
import { pulsar } from './pulsar.ts';
import { STATE_DIR, formatBytes, log, writeEnvFile, type Engine } from './lib.ts';

const ENGINES: readonly Engine[] = [elasticsearch, elasticsearchCluster, pulsar, redis, redisSentinel, mariadb];
const ALIASES: Record<string, string> = { es: 'elasticsearch', 'es-cluster': 'elasticsearch-cluster', cluster: 'elasticsearch-cluster', mysql: 'mariadb', sentinel: 'redis-sentinel' };

export function select(names: readonly string[]): Engine[] {
  if (names.length === 0 || names.includes('all')) return [...ENGINES];
  return names.map((raw) => {
    const name = ALIASES[raw] ?? raw;
    const engine = ENGINES.find((candidate) => candidate.name === name);
    if (!engine) throw new Error(`unknown engine "${raw}"; known: ${ENGINES.map((e) => e.name).join(', ')}, all`);
    return engine;
  });
}

function printEnv(engines: readonly Engine[]): void {
  for (const engine of engines) {
    const env = engine.env();
    writeEnvFile(engine.name, env);
    process.stdout.write(`# ${engine.name} (also in ${join(STATE_DIR, `${engine.name}.env`)})\n`);
    for (const [key, value] of Object.entries(env)) process.stdout.write(`${key}=${value}\n`);
  }
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

async function up(names: readonly string[]): Promise<void> {
  const engines = select(names);
  const started = Date.now();
  // Installs first, side by side (downloads, Maven, apt, go build), then the starts.
  await Promise.all(engines.map(async (engine) => {
    const at = Date.now();
    await engine.install();
    log(`${engine.name}: installed (${seconds(at)})`);
  }));
  await Promise.all(engines.map(async (engine) => {
    const at = Date.now();
    await engine.up();
    log(`${engine.name}: up (${seconds(at)})`);
  }));
  log(`all up in ${seconds(started)}`);
  printEnv(engines);
}

async function down(names: readonly string[], purge: boolean): Promise<void> {
  const engines = select(names);
  await Promise.all(engines.map((engine) => engine.down()));
  if (purge && (names.length === 0 || names.includes('all'))) rmSync(STATE_DIR, { recursive: true, force: true });
  else if (purge) for (const engine of engines) rmSync(join(STATE_DIR, engine.name), { recursive: true, force: true });
  log(`stopped: ${engines.map((engine) => engine.name).join(', ')}${purge ? ' (data removed)' : ''}`);
}

async function status(names: readonly string[]): Promise<boolean> {
  const engines = select(names);
  const rows = await Promise.all(engines.map(async (engine) => ({ engine, status: await engine.status() })));
  for (const { engine, status: s } of rows) {
    const memory = s.rssBytes === undefined ? '' : `, ${formatBytes(s.rssBytes)} resident`;
    process.stdout.write(`# ${engine.name}: ${s.running ? 'running' : 'not running'} (${s.detail}${memory}) — ${engine.description}\n`);
  }
  process.stdout.write(`# node: ${process.version}\n`);
  printEnv(rows.filter((row) => row.status.running).map((row) => row.engine));
  return rows.every((row) => row.status.running);
}

const program = new Command('engines').description('Real engines for Sluice without Docker').showHelpAfterError();
program.command('up').argument('[engines...]', 'elasticsearch, elasticsearch-cluster, pulsar, redis, redis-sentinel, mariadb (default: all)').description('install and start (idempotent); prints the environment')
  .action((names: string[]) => up(names));
program.command('down').argument('[engines...]').option('--purge', 'also delete their data').description('stop (idempotent); no process is left behind')
  .action((names: string[], options: { purge?: boolean }) => down(names, options.purge === true));
program.command('status').argument('[engines...]').description('what runs, its memory, and the environment that points Sluice at it; exit 1 when one is down')
  .action(async (names: string[]) => {
    if (!(await status(names))) process.exitCode = 1;
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  log(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
