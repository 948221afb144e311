// `npm run bench:api`: POST /track on the embedded bus vs a bare fastify route, same run.
// Each target runs in its own process; wrk (or autocannon) drives each in turn.
// BENCH_CACHE=redis adds the same API on the Redis profile cache (`npm run engines:up --
// redis` first), compared with the embedded cache in the same rounds.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createTestDatabase, mysqlEnv, mysqlTestSettings } from '@sluice/config-store/mysql-testing';
import { engineEnv, runSluice, startSluice, type SluiceProcess } from '@sluice/testkit';
import { describeSteal, stealMeter } from '../scripts/load/cpu-steal.ts';
import { startBare } from './bare-route.ts';
import { medianRound, openWrk } from './wrk.ts';

const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const DURATION_SECONDS = Number(process.env['BENCH_DURATION'] ?? 10);
const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 3);

/** The round with the median requests/s (its latencies with it); failures of every round. */
function medianOf(rounds: Figures[]): Figures {
  return { ...medianRound(rounds, (round) => round.requestsPerSecond), non2xx: rounds.reduce((sum, round) => sum + round.non2xx, 0), errors: rounds.reduce((sum, round) => sum + round.errors, 0) };
}

function payload(events: number, bytesPerEvent: number): string {
  const filler = 'x'.repeat(Math.max(0, bytesPerEvent - 200));
  return JSON.stringify({
    source: { id: 'demo' },
    session: { id: 'bench-session' },
    profile: { id: 'bench-profile' },
    context: { page: { url: 'https://shop.example/products/42', title: 'Product 42' } },
    events: Array.from({ length: events }, (_, n) => ({ type: 'page-view', properties: { n, filler } })),
  });
}

/** A Segment batch as @segment/analytics-node sends it: 20 track calls, about 200 bytes of properties each. */
function segmentBatch(events: number): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    batch: Array.from({ length: events }, (_, n) => ({ type: 'track', event: 'Product Viewed', messageId: `bench-${String(n)}`, anonymousId: 'bench-anonymous', timestamp: at, properties: { n, filler: 'x'.repeat(150) }, context: { library: { name: '@segment/analytics-node', version: '3.1.0' } }, _metadata: { jsRuntime: 'node' } })),
    writeKey: 'demo',
    sentAt: at,
  });
}

/** Each payload goes to Sluice at `path` (the bare route is always /track: it only parses the body). */
const SCENARIOS: { name: string; body: string; path?: string }[] = [
  { name: '1 event, 1 KB', body: payload(1, 1024) },
  { name: '20-event batch', body: payload(20, 200) },
  { name: 'Segment /v1/batch, 20 events', body: segmentBatch(20), path: '/v1/batch' },
];

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/**
 * The load generator: `wrk` (benchmarks/wrk.ts) by default, as it leaves the most CPU to the
 * servers on a machine it shares with them; `autocannon` (BENCH_CLIENT=autocannon) needs no
 * install but takes about a core of its own.
 */
const CLIENT = process.env['BENCH_CLIENT'] ?? 'wrk';
const wrk = CLIENT === 'wrk' ? await openWrk() : undefined;

async function load(url: string, body: string, path = '/track'): Promise<Figures> {
  if (wrk !== undefined) return wrk.post(`${url}${path}`, body, { connections: CONNECTIONS, seconds: DURATION_SECONDS });
  const result = await autocannon({ url: `${url}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration: DURATION_SECONDS });
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
const bare = await startBare();
/** The Sluice targets: the embedded defaults, and the variants asked for (each with what to clean up). */
const targets: { name: string; sluice: SluiceProcess; cleanup?: () => Promise<void> }[] = [{ name: 'Sluice /track, embedded bus (fsync)', sluice: await startSluice('api', { DATA_DIR: join(dataDir, 'embedded'), LOGGING_LEVEL: 'error', CONFIG_ADAPTER: 'embedded' }) }];
if (process.env['BENCH_CACHE'] === 'redis') {
  const env = { ...engineEnv('redis'), CACHE_ADAPTER: 'redis', CONFIG_ADAPTER: 'embedded', TENANT_NAME: `bench${String(process.pid)}` };
  targets.push({ name: 'Sluice /track, embedded bus, Redis cache', sluice: await startSluice('api', { ...env, DATA_DIR: join(dataDir, 'redis'), LOGGING_LEVEL: 'error' }) });
}
// CONFIG_ADAPTER=mysql: the same API with its configuration on the engines' MariaDB (a
// database of its own), measured in the same interleaved rounds; compared with the embedded one.
if (process.env['CONFIG_ADAPTER'] === 'mysql') targets.push({ name: 'Sluice /track, CONFIG_ADAPTER=mysql', ...(await startMysqlSluice()) });
async function startMysqlSluice(): Promise<{ sluice: SluiceProcess; cleanup: () => Promise<void> }> {
  const { database, drop } = await createTestDatabase();
  const env = { ...mysqlEnv(mysqlTestSettings(database)), LOGGING_LEVEL: 'error' };
  for (const args of [['init'], ['sources', 'add', 'demo', '--origin', '*']]) {
    const run = await runSluice(args, env);
    if (run.code !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${run.output}`);
  }
  return { sluice: await startSluice('api', { ...env, DATA_DIR: join(dataDir, 'mysql') }), cleanup: drop };
}
const rows: string[] = [];
/** Per scenario, each Sluice target vs bare in each interleaved round (how much the ratio moves). */
const spreads: string[] = [];
/** The share of CPU time the host took during the rounds, for the header (scripts/load/cpu-steal.ts). */
const stolen = stealMeter();
let steal: number | undefined;
try {
  for (const scenario of SCENARIOS) {
    // Each target gets the same warm-up run (JIT, connection pools), then REPEAT measured
    // rounds, interleaved, and the median round is reported (this machine is noisy).
    await load(bare.url, scenario.body);
    for (const target of targets) await load(target.sluice.url, scenario.body, scenario.path);
    const bareRounds: Figures[] = [];
    const targetRounds: Figures[][] = targets.map(() => []);
    for (let round = 0; round < REPEAT; round += 1) {
      bareRounds.push(await load(bare.url, scenario.body));
      for (const [at, target] of targets.entries()) targetRounds[at]!.push(await load(target.sluice.url, scenario.body, scenario.path));
    }
    const baseline = medianOf(bareRounds);
    rows.push(`| ${scenario.name} | bare fastify route | ${baseline.requestsPerSecond.toFixed(0)} | ${baseline.p50} | ${baseline.p99} | | |`);
    const first = medianOf(targetRounds[0]!);
    for (const [at, target] of targets.entries()) {
      const rounds = targetRounds[at]!;
      const tracked = medianOf(rounds);
      const vsBare = `${((tracked.requestsPerSecond / baseline.requestsPerSecond) * 100).toFixed(0)}%`;
      const vsEmbedded = at === 0 ? '' : `${((tracked.requestsPerSecond / first.requestsPerSecond) * 100).toFixed(0)}%`;
      rows.push(`| ${scenario.name} | ${target.name} | ${tracked.requestsPerSecond.toFixed(0)} | ${tracked.p50} | ${tracked.p99} | ${vsBare} | ${vsEmbedded} |`);
      spreads.push(`${scenario.name}, ${target.name}: ${rounds.map((round, n) => `${((round.requestsPerSecond / (bareRounds[n]?.requestsPerSecond ?? Number.NaN)) * 100).toFixed(0)}%`).join(', ')}`);
      if (tracked.non2xx > 0 || tracked.errors > 0) rows.push(`| ${scenario.name} | (${target.name} non-2xx: ${tracked.non2xx}, errors: ${tracked.errors}) | | | | | |`);
    }
  }
  steal = stolen();
} finally {
  await bare.stop();
  for (const target of targets) {
    await target.sluice.stop();
    await target.cleanup?.();
  }
  await rm(dataDir, { recursive: true, force: true });
  await wrk?.close();
}

process.stdout.write(
  [
    `POST /track, ${CLIENT}, ${CONNECTIONS} connections, median of ${REPEAT} interleaved ${DURATION_SECONDS} s rounds after a warm-up run each, ${cpus().length} cores, Node ${process.version}; ${describeSteal(steal)} (CPU time the host gave other guests)`,
    '',
    '| Payload | Target | Requests/s | p50 ms | p99 ms | vs bare | vs embedded Sluice |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    'Each Sluice target vs bare, round by round:',
    ...spreads.map((line) => `- ${line}`),
    '',
  ].join('\n'),
);
