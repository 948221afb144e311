// `npm run bench:bus`: events through Sluice's API onto the real Pulsar broker, and the
// storage worker draining them, side by side with pulsar-perf (the broker's own load tool,
// native binary protocol) on the same broker, in the same run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { engineEnv, randomName, runEngines, startSluice, waitFor } from '@sluice/testkit';

const DURATION_SECONDS = Number(process.env['BENCH_DURATION'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const MESSAGE_BYTES = 1024;

// The broker and the pulsar-perf classpath come from the project's engine scripts.
runEngines('up', ['pulsar']);
const pulsar = engineEnv('pulsar');
const web = pulsar['PULSAR_WEB_HOST']!;
const perfClasspath = spawnSync(process.execPath, ['--use-system-ca', '-e', "import('./scripts/engines/pulsar.ts').then(async (m) => process.stdout.write(await m.pulsarPerfClasspath()))"], { encoding: 'utf8' }).stdout;

interface Figures {
  perSecond: number;
  p99Ms: number;
}

async function pulsarPerf(args: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-perf-'));
  const conf = join(dir, 'client.conf');
  await writeFile(conf, `serviceUrl=${pulsar['PULSAR_HOST']!}\nwebServiceUrl=${web}\n`);
  const result = spawnSync('java', ['-Xmx1g', '-cp', perfClasspath, 'org.apache.pulsar.testclient.PulsarPerfTestTool', conf, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  await rm(dir, { recursive: true, force: true });
  return `${result.stdout}${result.stderr}`;
}

function parsePerf(output: string, kind: 'sent' | 'received'): Figures {
  const rate = new RegExp(`Aggregated throughput stats --- \\d+ records ${kind} --- ([\\d.]+) msg/s`).exec(output);
  const p99 = /Aggregated latency stats.*?99pct:\s*([\d.]+)/.exec(output);
  if (!rate) throw new Error(`cannot read pulsar-perf's figures:\n${output.slice(-2000)}`);
  return { perSecond: Number(rate[1]), p99Ms: Number(p99?.[1] ?? NaN) };
}

async function topicStats(namespace: string): Promise<{ published: number; backlog: number }> {
  const response = await fetch(`${web}/admin/v2/persistent/public/${namespace}/events/partitioned-stats`);
  const stats = (await response.json()) as { msgInCounter?: number; subscriptions?: Record<string, { msgBacklog?: number }> };
  // No subscription yet: nothing has been consumed.
  return { published: stats.msgInCounter ?? 0, backlog: stats.subscriptions?.['storage']?.msgBacklog ?? Number.POSITIVE_INFINITY };
}

const namespace = randomName('bench-');
const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-bus-'));
const env = { DATA_DIR: dataDir, LOGGING_LEVEL: 'error', BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: web, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '4' };
const rows: string[] = [];
let worker: ChildProcess | undefined;
try {
  const created = await fetch(`${web}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' });
  if (created.status !== 204) throw new Error(`cannot create namespace public/${namespace}: HTTP ${String(created.status)}`);
  // 1. pulsar-perf: 1 KB messages, batching off (as Sluice's producer), as fast as the broker takes them.
  const perfTopic = `persistent://public/${namespace}/perf`;
  const produced = parsePerf(await pulsarPerf(['produce', '-r', '1000000', '-s', String(MESSAGE_BYTES), '-db', '-o', String(CONNECTIONS * 4), '-time', String(DURATION_SECONDS), perfTopic]), 'sent');
  const consumed = parsePerf(await pulsarPerf(['consume', '-ss', 'perf', '-sp', 'Earliest', '-st', 'Shared', '-time', String(DURATION_SECONDS), perfTopic]), 'received');

  // 2. Sluice's API onto the broker: POST /track, one 1 KB event per request (the worker is not running).
  const api = await startSluice('api', env, 60_000);
  const body = JSON.stringify({ source: { id: 'demo' }, session: { id: 'bench' }, profile: { id: 'bench' }, events: [{ type: 'page-view', properties: { filler: 'x'.repeat(MESSAGE_BYTES - 200) } }] });
  const load = (duration: number) => autocannon({ url: `${api.url}/track`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration });
  await load(3);
  const tracked = await load(DURATION_SECONDS);
  await api.stop();
  const accepted = (await topicStats(namespace)).published;

  // 3. One storage worker drains that backlog into the embedded store.
  const started = Date.now();
  worker = spawn(process.execPath, ['apps/cli/src/bin.ts', 'worker'], { env: { ...process.env, ...env, STORAGE_FLUSH_INTERVAL: '200' }, stdio: 'ignore' });
  await waitFor(async () => (await topicStats(namespace)).backlog === 0, 600_000, () => 'the worker did not drain the backlog');
  const drained = accepted / ((Date.now() - started) / 1000);

  const ratio = (ours: number, theirs: number) => `${((ours / theirs) * 100).toFixed(0)}%`;
  rows.push(
    `| produce, 1 KB | pulsar-perf (binary protocol, batching off) | ${produced.perSecond.toFixed(0)} | ${produced.p99Ms.toFixed(1)} | |`,
    `| produce, 1 KB | Sluice POST /track → Pulsar (WebSocket), ${String(CONNECTIONS)} connections | ${tracked.requests.average.toFixed(0)} | ${String(tracked.latency.p99)} | ${ratio(tracked.requests.average, produced.perSecond)} |`,
    `| consume | pulsar-perf consume (Shared) | ${consumed.perSecond.toFixed(0)} | | |`,
    `| consume | one Sluice storage worker → embedded store (${String(accepted)} events, incl. start-up) | ${drained.toFixed(0)} | | ${ratio(drained, consumed.perSecond)} |`,
  );
  if (tracked.non2xx > 0 || tracked.errors > 0) rows.push(`| | (Sluice non-2xx: ${String(tracked.non2xx)}, errors: ${String(tracked.errors)}) | | | |`);
} finally {
  worker?.kill('SIGTERM');
  await fetch(`${web}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' }).catch(() => undefined);
  await rm(dataDir, { recursive: true, force: true });
}

process.stdout.write([
  `Pulsar bus, ${String(DURATION_SECONDS)} s per run, ${String(cpus().length)} cores, Node ${process.version}; broker: engines:up pulsar (standalone)`,
  '',
  '| Step | Target | Events/s | p99 ms | Sluice vs pulsar-perf |',
  '| --- | --- | ---: | ---: | ---: |',
  ...rows,
  '',
].join('\n'));
