// `npm run bench:bus`: events through Sluice's API onto the real Pulsar broker, and one
// storage worker draining them, beside the broker's own load tool (pulsar-perf, binary
// protocol) on the same broker and the same API build on the embedded bus, in the same run:
// a warm-up of each, then BENCH_REPEAT interleaved rounds; the median round is reported.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineEnv, randomName, runEngines, runSluice, startSluice, waitFor, type SluiceProcess } from '@sluice/testkit';
import { describeSteal, stealMeter } from '../scripts/load/cpu-steal.ts';
import { startBare, type BareRoute } from './bare-route.ts';
import { medianRound, openWrk } from './wrk.ts';

const DURATION_SECONDS = Number(process.env['BENCH_DURATION'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 3);
const MESSAGE_BYTES = 1024;

// The broker and the pulsar-perf classpath come from the project's engine scripts; a broker
// that already answers at the engines' address is used as it is (another run may own it).
const answering = async (env: Record<string, string>) => (await fetch(`${env['PULSAR_WEB_HOST']!}/admin/v2/brokers/health`).catch(() => undefined))?.ok === true;
let found = (() => {
  try {
    return engineEnv('pulsar');
  } catch {
    return undefined; // not up yet
  }
})();
if (found === undefined || !(await answering(found))) {
  runEngines('up', ['pulsar']);
  found = engineEnv('pulsar');
}
const pulsar = found;
const web = pulsar['PULSAR_WEB_HOST']!;
const perfClasspath = spawnSync(process.execPath, ['--use-system-ca', '-e', "import('./scripts/engines/pulsar.ts').then(async (m) => process.stdout.write(await m.pulsarPerfClasspath()))"], { encoding: 'utf8' }).stdout;
const wrk = await openWrk();

interface Figures {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests answered 2xx (Sluice) or messages (pulsar-perf) in the round. */
  count: number;
  failures: number;
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
  const rate = new RegExp(`Aggregated throughput stats --- (\\d+) records ${kind} --- ([\\d.]+) msg/s`).exec(output);
  const latency = /Aggregated latency stats.*?med:\s*([\d.]+).*?99pct:\s*([\d.]+)/.exec(output);
  if (!rate) throw new Error(`cannot read pulsar-perf's figures:\n${output.slice(-2000)}`);
  return { perSecond: Number(rate[2]), p50Ms: Number(latency?.[1] ?? NaN), p99Ms: Number(latency?.[2] ?? NaN), count: Number(rate[1]), failures: 0 };
}

const workDir = await mkdtemp(join(tmpdir(), 'sluice-bench-bus-'));
const body = JSON.stringify({ source: { id: 'demo' }, session: { id: 'bench' }, profile: { id: 'bench' }, events: [{ type: 'page-view', properties: { filler: 'x'.repeat(MESSAGE_BYTES - 200) } }] });

/** POST /track, one 1 KB event a request, `connections` connections, for `seconds`. */
async function track(url: string, seconds = DURATION_SECONDS, connections = CONNECTIONS): Promise<Figures> {
  const figures = await wrk.post(`${url}/track`, body, { connections, seconds });
  return { perSecond: figures.requestsPerSecond, p50Ms: figures.p50, p99Ms: figures.p99, count: figures.requests - figures.non2xx, failures: figures.non2xx + figures.errors };
}

async function storageSubscription(namespace: string): Promise<{ backlog: number; consumers: number }> {
  const response = await fetch(`${web}/admin/v2/persistent/public/${namespace}/events/partitioned-stats`);
  const stats = (await response.json()) as { subscriptions?: Record<string, { msgBacklog?: number; consumers?: unknown[] }> };
  const subscription = stats.subscriptions?.['storage'];
  return { backlog: subscription?.msgBacklog ?? Number.POSITIVE_INFINITY, consumers: subscription?.consumers?.length ?? 0 };
}

/** The worker of the drain under way, if any. */
let draining: SluiceProcess | undefined;

/**
 * One storage worker drains the events topic into the embedded store: the events left once
 * it has started acknowledging, over the time from then to an empty backlog. Its start-up is
 * excluded, and so is the broker's pause before it dispatches to a consumer that has just
 * become a Failover subscription's active one (activeConsumerFailoverDelayTimeMillis, 1 s).
 */
async function drain(env: Record<string, string>, namespace: string, events: number): Promise<Figures> {
  draining = await startSluice('worker', { ...env, STORAGE_FLUSH_INTERVAL: '200' }, 60_000, { ownSession: true });
  try {
    await waitFor(async () => (await storageSubscription(namespace)).consumers > 0, 60_000, () => 'the worker did not subscribe');
    const initial = (await storageSubscription(namespace)).backlog;
    let left = initial;
    await waitFor(async () => (left = (await storageSubscription(namespace)).backlog) < initial, 60_000, () => 'the worker acknowledged nothing');
    const started = Date.now();
    await waitFor(async () => (await storageSubscription(namespace)).backlog === 0, 600_000, () => 'the worker did not drain the backlog');
    // The backlog counts messages (a group is one); the events left are in proportion.
    const eventsLeft = initial > 0 ? (events * left) / initial : events;
    return { perSecond: eventsLeft / ((Date.now() - started) / 1000), p50Ms: NaN, p99Ms: NaN, count: events, failures: 0 };
  } finally {
    await draining.stop();
    draining = undefined;
  }
}

/** A copy of `items` in a random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** The round with the median rate (its latencies with it); failures of every round. */
function median(rounds: readonly Figures[]): Figures {
  return { ...medianRound(rounds, (round) => round.perSecond), failures: rounds.reduce((sum, round) => sum + round.failures, 0) };
}

const namespace = randomName('bench-');
const env = { DATA_DIR: join(workDir, 'pulsar'), LOGGING_LEVEL: 'error', BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: web, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '4', ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('PULSAR_GROUP') || name === 'PULSAR_PRODUCERS')) } as Record<string, string>;
// pulsar-perf gets a namespace of its own: `sluice init` gives Sluice's a backlog quota that
// holds producers, which the perf topic's unacknowledged rounds would reach.
const perfNamespace = `${namespace}-perf`;
const perfTopic = `persistent://public/${perfNamespace}/perf`;
/** pulsar-perf produce, `outstanding` messages in flight at most (its default run: 4 per connection of ours). */
const perfProduce = (batching: boolean, outstanding = CONNECTIONS * 4) => async () => parsePerf(await pulsarPerf(['produce', '-r', '1000000', '-s', String(MESSAGE_BYTES), ...(batching ? [] : ['-db']), '-o', String(outstanding), '-time', String(DURATION_SECONDS), perfTopic]), 'sent');
let consumeRound = 0;
const perfConsume = async () => parsePerf(await pulsarPerf(['consume', '-ss', `perf-${String((consumeRound += 1))}`, '-sp', 'Earliest', '-st', 'Shared', '-time', String(DURATION_SECONDS), perfTopic]), 'received');

const rows: string[] = [];
const spreads: string[] = [];
/** The order of each round's steps. */
const orders: string[] = [];
/** Share of the machine's CPU time its host took from the warm-up to the last round (scripts/load/cpu-steal.ts). */
let steal: number | undefined;
const processes: SluiceProcess[] = [];
let bare: BareRoute | undefined;
/** Stops the processes started in their own sessions, a draining worker too. */
async function stopAll(): Promise<void> {
  for (const sluice of processes.splice(0)) await sluice.stop();
  await bare?.stop();
  await draining?.stop();
}
try {
  for (const name of [namespace, perfNamespace]) {
    const created = await fetch(`${web}/admin/v2/namespaces/public/${name}`, { method: 'PUT' });
    if (created.status !== 204) throw new Error(`cannot create namespace public/${name}: HTTP ${String(created.status)}`);
  }
  const init = await runSluice(['init'], env);
  if (init.code !== 0) throw new Error(`sluice init failed: ${init.output}`);
  // The worker is not running while the API is measured: it drains each round's backlog after.
  // Each Sluice process runs in a session of its own, as the broker does: Linux's autogroup
  // scheduling shares the cores between sessions first (docs/sizing.md), and wrk and
  // pulsar-perf run in this otherwise idle one.
  // A Ctrl-C reaches them no more: the finally below stops them, and so does a signal.
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));
  const onPulsar = await startSluice('api', env, 60_000, { ownSession: true });
  processes.push(onPulsar);
  const embedded = await startSluice('api', { DATA_DIR: join(workDir, 'embedded'), LOGGING_LEVEL: 'error' }, 60_000, { ownSession: true });
  processes.push(embedded);
  // The HTTP ceiling of this machine: a route that only parses the same body.
  bare = await startBare({ ownSession: true });
  const bareUrl = bare.url;

  const steps = {
    perfOff: perfProduce(false),
    perfOn: perfProduce(true),
    perfSameConcurrency: perfProduce(false, CONNECTIONS),
    perfConsume,
    sluice: async () => track(onPulsar.url),
    sluiceWide: async () => track(onPulsar.url, DURATION_SECONDS, CONNECTIONS * 4),
    embedded: async () => track(embedded.url),
    embeddedWide: async () => track(embedded.url, DURATION_SECONDS, CONNECTIONS * 4),
    bare: async () => track(bareUrl),
    bareWide: async () => track(bareUrl, DURATION_SECONDS, CONNECTIONS * 4),
  };
  type Step = keyof typeof steps;
  const rounds: Record<Step | 'worker', Figures[]> = { perfOff: [], perfOn: [], perfSameConcurrency: [], perfConsume: [], sluice: [], sluiceWide: [], embedded: [], embeddedWide: [], bare: [], bareWide: [], worker: [] };
  // Warm-up (JIT, connections, the perf topic's first backlog), then interleaved rounds.
  const stolen = stealMeter();
  await steps.perfOff();
  await drain(env, namespace, (await track(onPulsar.url, 3)).count);
  await track(embedded.url, 3);
  await track(bareUrl, 3);
  // The first round runs the steps in the order above, each later one in a shuffled order, so
  // that a step does not always follow the same one (whatever a step leaves behind — a busy
  // broker, a cold cache — lands on different ones). The orders are printed with the figures.
  // pulsar-perf consume reads what every produce so far left, the warm-up's included.
  const order = Object.keys(steps) as Step[];
  for (let round = 0; round < REPEAT; round += 1) {
    const ran = round === 0 ? order : shuffled(order);
    orders.push(ran.join(', '));
    for (const step of ran) rounds[step].push(await steps[step]());
    rounds.worker.push(await drain(env, namespace, rounds.sluice.at(-1)!.count + rounds.sluiceWide.at(-1)!.count));
  }
  steal = stolen();

  const figures = Object.fromEntries(Object.entries(rounds).map(([step, list]) => [step, median(list)])) as Record<Step | 'worker', Figures>;
  const ratio = (ours: number, theirs: number) => (ours / theirs).toFixed(2);
  const byRound = (ours: Step | 'worker', theirs: Step) => rounds[ours].map((round, n) => ratio(round.perSecond, rounds[theirs][n]!.perSecond)).join(', ');
  const row = (step: string, target: string, f: Figures, vs = '') => `| ${step} | ${target} | ${f.perSecond.toFixed(0)} | ${Number.isNaN(f.p50Ms) ? '' : f.p50Ms.toFixed(1)} | ${Number.isNaN(f.p99Ms) ? '' : f.p99Ms.toFixed(1)} | ${vs} |`;
  rows.push(
    row('produce, 1 KB', `pulsar-perf produce, batching off, ${String(CONNECTIONS * 4)} outstanding`, figures.perfOff),
    row('produce, 1 KB', `pulsar-perf produce, default batching, ${String(CONNECTIONS * 4)} outstanding`, figures.perfOn),
    row('produce, 1 KB', `pulsar-perf produce, batching off, ${String(CONNECTIONS)} outstanding (our concurrency)`, figures.perfSameConcurrency),
    row('produce, 1 KB', `Sluice POST /track → Pulsar (WebSocket), ${String(CONNECTIONS)} connections`, figures.sluice, `${ratio(figures.sluice.perSecond, figures.perfOff.perSecond)} of perf (batching off), ${ratio(figures.sluice.perSecond, figures.perfSameConcurrency.perSecond)} of perf at our concurrency, ${ratio(figures.sluice.perSecond, figures.embedded.perSecond)} of embedded`),
    row('produce, 1 KB', `Sluice POST /track → Pulsar (WebSocket), ${String(CONNECTIONS * 4)} connections (pulsar-perf's concurrency)`, figures.sluiceWide, `${ratio(figures.sluiceWide.perSecond, figures.perfOff.perSecond)} of perf (batching off), ${ratio(figures.sluiceWide.perSecond, figures.embeddedWide.perSecond)} of embedded at ${String(CONNECTIONS * 4)}`),
    row('produce, 1 KB', `same API, embedded bus (fsync), ${String(CONNECTIONS)} connections`, figures.embedded),
    row('produce, 1 KB', `same API, embedded bus (fsync), ${String(CONNECTIONS * 4)} connections`, figures.embeddedWide),
    row('produce, 1 KB', `bare fastify route that only parses the body, ${String(CONNECTIONS)} connections (this machine's HTTP ceiling)`, figures.bare, `Sluice on Pulsar ${ratio(figures.sluice.perSecond, figures.bare.perSecond)} of it; it is ${ratio(figures.bare.perSecond, figures.perfOff.perSecond)} of perf (batching off)`),
    row('produce, 1 KB', `bare fastify route, ${String(CONNECTIONS * 4)} connections`, figures.bareWide, `Sluice on Pulsar ${ratio(figures.sluiceWide.perSecond, figures.bareWide.perSecond)} of it, the embedded bus ${ratio(figures.embeddedWide.perSecond, figures.bareWide.perSecond)}; it is ${ratio(figures.bareWide.perSecond, figures.perfOff.perSecond)} of perf (batching off)`),
    // pulsar-perf consume's latency runs from each message's publish time, which a backlog makes meaningless here.
    row('consume', 'pulsar-perf consume (Shared)', { ...figures.perfConsume, p50Ms: NaN, p99Ms: NaN }),
    row('consume', 'one Sluice storage worker → embedded store (from its first acknowledgement to an empty backlog)', figures.worker, `${ratio(figures.worker.perSecond, figures.perfConsume.perSecond)} of perf consume`),
  );
  spreads.push(
    `/track on Pulsar vs pulsar-perf produce (batching off): ${byRound('sluice', 'perfOff')}`,
    `/track on Pulsar vs pulsar-perf produce (batching off, ${String(CONNECTIONS)} outstanding): ${byRound('sluice', 'perfSameConcurrency')}`,
    `/track on Pulsar, ${String(CONNECTIONS * 4)} connections, vs pulsar-perf produce (batching off, ${String(CONNECTIONS * 4)} outstanding): ${byRound('sluiceWide', 'perfOff')}`,
    `/track on Pulsar vs the same API on the embedded bus: ${byRound('sluice', 'embedded')}`,
    `/track on Pulsar vs the same API on the embedded bus, ${String(CONNECTIONS * 4)} connections: ${byRound('sluiceWide', 'embeddedWide')}`,
    `the bare route vs pulsar-perf produce (batching off): ${byRound('bare', 'perfOff')}`,
    `the same API on the embedded bus, ${String(CONNECTIONS * 4)} connections, vs pulsar-perf produce (batching off): ${byRound('embeddedWide', 'perfOff')}`,
    `the bare route, ${String(CONNECTIONS * 4)} connections, vs pulsar-perf produce (batching off): ${byRound('bareWide', 'perfOff')}`,
    `one worker vs pulsar-perf consume: ${byRound('worker', 'perfConsume')}`,
  );
  const failed = (['sluice', 'sluiceWide', 'embedded', 'embeddedWide', 'bare', 'bareWide'] as const).filter((step) => figures[step].failures > 0);
  if (failed.length > 0) rows.push(`| | (failed requests: ${failed.map((step) => `${step} ${String(figures[step].failures)}`).join(', ')}) | | | | |`);
} finally {
  await stopAll();
  for (const name of [namespace, perfNamespace]) await fetch(`${web}/admin/v2/namespaces/public/${name}?force=true`, { method: 'DELETE' }).catch(() => undefined);
  await rm(workDir, { recursive: true, force: true });
  await wrk.close();
}

process.stdout.write([
  `Pulsar bus: median of ${String(REPEAT)} interleaved ${String(DURATION_SECONDS)} s rounds after a warm-up, ${String(cpus().length)} cores, Node ${process.version}; broker: engines:up pulsar (standalone); grouping ${env['PULSAR_GROUP_BYTES'] === '0' ? 'off' : `linger ${env['PULSAR_GROUP_LINGER'] ?? 'default'} ms`}, producers ${env['PULSAR_PRODUCERS'] ?? 'default'}; ${describeSteal(steal)} (CPU time the host gave other guests)`,
  '',
  '| Step | Target | Events/s | p50 ms | p99 ms | Sluice vs baseline |',
  '| --- | --- | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
  'Round by round:',
  ...spreads.map((line) => `- ${line}`),
  '',
  'Order of the steps in each round (the drain closes each):',
  ...orders.map((line, n) => `${String(n + 1)}. ${line}`),
  '',
].join('\n'));
