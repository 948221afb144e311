// `npm run load:capacity`: the highest arrival rate the full production stack sustains on
// this machine. It brings the stack up (stack.ts), steps the rate up until p99 latency,
// errors or the storage backlog break their bounds, holds the last good rate for
// CAPACITY_HOLD seconds (stepping down 10 % when the hold breaks), checks that every accepted
// event is stored exactly once, and writes load-tests/results/<date>-<cores>c.json with the
// per-event costs `sluice size` sizes from. Its last line:
//   capacity: N events/s sustained for S s, p99 X ms, errors E, lost L, duplicated D
// Settings (environment): CAPACITY_SCENARIO (capacity), CAPACITY_API_REPLICAS (2),
// CAPACITY_WORKERS (2), CAPACITY_PARTITIONS (as many as workers), CAPACITY_START_RATE (requests/s, 500),
// CAPACITY_STEP (×1.25), CAPACITY_STEP_SECONDS (15), CAPACITY_HOLD (s, 60), CAPACITY_P99 (ms, 100),
// CAPACITY_WARMUP (s, 120; at half the start rate, not judged, then on in 30 s rounds while a
// round breaks the p99 bound, up to CAPACITY_WARMUP_MAX s, 300), CAPACITY_PROFILE (env/small.env:
// the env profile whose tuning the stack runs with; its addresses, replicas and retention are
// the run's own).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { createRequestBuilder } from '../../../load-tests/lib/payload.js';
import type { Scenario } from '../../../load-tests/lib/scenario.js';
import { describeSteal, stealMeter } from '../cpu-steal.ts';
import { loadScenario } from '../scenario-files.ts';
import { runOpenModel } from '../runner/open-model.ts';
import type { StageStats } from '../runner/stage-stats.ts';
import { engineDir, groupPids, readPid } from '../../engines/lib.ts';
import { cpuSeconds, startProductionStack, type Stack } from './stack.ts';
import { busStorageBytes, engineVersions, histogramQuantile, redisBytesPerKey, storageBacklog, storedBytes } from './measure.ts';
import { storedOnce, waitForDrain } from './stored-once.ts';

const setting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SCENARIO = process.env['CAPACITY_SCENARIO'] ?? 'capacity';
const API_REPLICAS = setting('CAPACITY_API_REPLICAS', 2);
const WORKERS = setting('CAPACITY_WORKERS', 2);
// Each partition is one worker's (key affinity) and groups requests on its own: partitions
// beyond the workers only split the groups into more, smaller bus messages.
const PARTITIONS = setting('CAPACITY_PARTITIONS', WORKERS);
const START_RATE = setting('CAPACITY_START_RATE', 500);
const STEP = setting('CAPACITY_STEP', 1.25);
const STEP_SECONDS = setting('CAPACITY_STEP_SECONDS', 15);
const HOLD_SECONDS = setting('CAPACITY_HOLD', 60);
const WARMUP_SECONDS = setting('CAPACITY_WARMUP', 120);
const WARMUP_MAX_SECONDS = setting('CAPACITY_WARMUP_MAX', 300);
/** Each further warm-up round, s. */
const WARMUP_ROUND_SECONDS = 30;
const P99_MS = setting('CAPACITY_P99', 100);
const PROFILE = process.env['CAPACITY_PROFILE'] ?? 'env/small.env';
/** Above this share of stolen CPU time during the hold, the run warns that its figures are low (0–1). */
const STEAL_WARNING = 0.05;
/** The settings of a profile the run takes: how Sluice is tuned, not where the engines are. */
const TUNING = /^(ELASTIC_INDEX_SHARDS|ELASTIC_REFRESH_INTERVAL|ELASTIC_COMPRESSION|ELASTIC_MAX_CONN|PULSAR_GROUP_\w+|PULSAR_PRODUCERS|PULSAR_PRODUCER_BATCHING|PULSAR_COMPRESSION|PULSAR_TRANSPORT|STORAGE_\w+|KEEP_\w+|REDIS_COMMAND_\w+|SOURCE_CACHE_TTL|TRACK_RETRY_MEMORY)$/;
/** The lowest rate the search tries, requests/s. */
const MIN_RATE = 20;
/** The storage backlog is bounded when it holds at most this many seconds of the offered load. */
const BACKLOG_SECONDS = 5;

interface Level {
  readonly requestsPerSecond: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly dropped: number;
  readonly backlog: number;
  /** Share of the machine's CPU time the host took while the level ran (0–1); absent off Linux. */
  readonly stealFraction?: number;
  readonly ok: boolean;
  readonly why: string;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const { scenario, templates } = loadScenario(SCENARIO);
const eventsPerRequest = scenario.requests.reduce((sum, request) => sum + request.weight * request.batchSize, 0) / scenario.requests.reduce((sum, request) => sum + request.weight, 0);
const accepted = new Set<string>();

/** One level: `rate` requests/s for `seconds`, judged on its latency, errors, drops and the backlog it leaves. */
async function level(stack: Stack, namespace: string, rate: number, seconds: number): Promise<Level> {
  const constant: Scenario = { ...scenario, load: { executor: 'constant-arrival-rate', rate: Math.round(rate), timeUnit: '1s', duration: `${String(seconds)}s`, preAllocatedVUs: 100, maxVUs: 2000 } };
  let stats: StageStats | undefined;
  const stolen = stealMeter();
  await runOpenModel({ scenario: constant, templates, url: stack.apis.map((api) => api.url), sources: [stack.sourceId], onStageEnd: (_index, stage) => void (stats = stage), onAccepted: (ids) => ids.forEach((id) => accepted.add(id)) });
  // The share of the machine's CPU time its host gave other guests meanwhile (see cpu-steal.ts).
  const steal = stolen();
  const backlog = await storageBacklog(namespace);
  const latency = stats!.latencyMs();
  const result = { requestsPerSecond: Math.round(rate), seconds, eventsPerSecond: stats!.acceptedEvents / seconds, p50Ms: latency.p50, p99Ms: latency.p99, errors: stats!.errors, dropped: stats!.dropped, backlog, ...(steal === undefined ? {} : { stealFraction: Number(steal.toFixed(3)) }) };
  const why = [
    latency.p99 >= P99_MS ? `p99 ${String(latency.p99)} ms ≥ ${String(P99_MS)} ms` : '',
    result.errors > 0 ? `${String(result.errors)} errors ${JSON.stringify(stats!.errorsByStatus)}` : '',
    result.dropped > 0 ? `${String(result.dropped)} dropped` : '',
    backlog > rate * BACKLOG_SECONDS ? `storage backlog ${String(backlog)} messages > ${String(BACKLOG_SECONDS)} s of load` : '',
  ].filter((reason) => reason !== '').join(', ');
  log(`  ${String(result.requestsPerSecond)} requests/s for ${String(seconds)} s: ${result.eventsPerSecond.toFixed(0)} events/s, p50 ${String(result.p50Ms)} ms, p99 ${String(result.p99Ms)} ms, errors ${String(result.errors)}, dropped ${String(result.dropped)}, backlog ${String(backlog)}, ${describeSteal(steal)} → ${why === '' ? 'ok' : why}`);
  return { ...result, ok: why === '', why };
}

/** Every process of an engine node started by the engine scripts (its process group). */
function enginePids(name: string, node: string): number[] {
  const leader = readPid(join(engineDir(name), `${node}.pid`));
  if (leader === undefined) throw new Error(`${name} (${node}) is not running: no pid file`);
  return groupPids(leader);
}

/** Average bytes of one event as sent: request bodies of the scenario, sampled, per event. */
function eventBytes(): number {
  const builder = createRequestBuilder(scenario, templates, ['capacity'], Math.random);
  let bytes = 0;
  let events = 0;
  for (let n = 0; n < 500; n += 1) {
    const request = builder.next(0, n);
    bytes += Buffer.byteLength(request.body);
    events += request.batchSize;
  }
  return Math.round(bytes / events);
}

log(`load:capacity: ${scenario.name} (${eventsPerRequest.toFixed(1)} events a request) on ${String(API_REPLICAS)} API replicas and ${String(WORKERS)} storage workers, Pulsar (${String(PARTITIONS)} partitions), Elasticsearch, Redis, MariaDB; ${String(cpus().length)} cores`);
const tuning = Object.fromEntries(Object.entries(parseEnv(readFileSync(PROFILE, 'utf8'))).filter((entry): entry is [string, string] => TUNING.test(entry[0]) && entry[1] !== undefined));
log(`tuning from ${PROFILE}: ${Object.entries(tuning).map(([name, value]) => `${name}=${value}`).join(' ')}`);
const stack = await startProductionStack({ apiReplicas: API_REPLICAS, workers: WORKERS, partitions: PARTITIONS, settings: tuning });
const namespace = stack.settings['PULSAR_NAMESPACE']!;
try {
  // Warm up, unjudged: the engines' JVMs may have just started (a clean clone's run), their
  // JIT compiles taking the cores for minutes, and the topic's first ledgers are being
  // created. So it goes on while its last round breaks the p99 bound, up to WARMUP_MAX_SECONDS.
  log(`warm-up (${String(WARMUP_SECONDS)} s, then ${String(WARMUP_ROUND_SECONDS)} s rounds while p99 ≥ ${String(P99_MS)} ms, up to ${String(WARMUP_MAX_SECONDS)} s; not judged):`);
  let warmed = 0;
  for (let seconds = WARMUP_SECONDS; seconds > 0 && warmed < WARMUP_MAX_SECONDS; seconds = WARMUP_ROUND_SECONDS) {
    const round = await level(stack, namespace, START_RATE / 2, Math.min(seconds, WARMUP_MAX_SECONDS - warmed));
    warmed += round.seconds;
    if (round.p99Ms < P99_MS) break;
  }
  await waitForDrain(namespace, 300_000);
  // Step up until a level breaks its bounds; when the first already does, step down until one holds.
  log('step up:');
  const steps: Level[] = [];
  for (let rate = START_RATE; ; rate *= STEP) {
    const step = await level(stack, namespace, rate, STEP_SECONDS);
    steps.push(step);
    await waitForDrain(namespace, 300_000);
    if (!step.ok) break;
  }
  if (steps.length === 1) {
    log('step down:');
    for (let rate = START_RATE / STEP; rate >= MIN_RATE; rate /= STEP) {
      const step = await level(stack, namespace, rate, STEP_SECONDS);
      steps.push(step);
      await waitForDrain(namespace, 300_000);
      if (step.ok) break;
    }
  }
  // Hold the last good level; when the hold breaks, 10 % lower, up to three times.
  let rate = steps.filter((step) => step.ok).at(-1)?.requestsPerSecond ?? MIN_RATE;
  let hold: Level | undefined;
  let cpu: { api: number; worker: number; elasticsearch: number } | undefined;
  log('hold:');
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const pids = { api: stack.apis.map((api) => api.child.pid!), worker: stack.workers.map((worker) => worker.child.pid!), elasticsearch: enginePids('elasticsearch', 'single') };
    const before = { api: cpuSeconds(pids.api), worker: cpuSeconds(pids.worker), elasticsearch: cpuSeconds(pids.elasticsearch) };
    hold = await level(stack, namespace, rate, HOLD_SECONDS);
    await waitForDrain(namespace, 300_000);
    cpu = { api: cpuSeconds(pids.api) - before.api, worker: cpuSeconds(pids.worker) - before.worker, elasticsearch: cpuSeconds(pids.elasticsearch) - before.elasticsearch };
    if (hold.ok) break;
    rate = Math.floor(rate * 0.9);
  }
  const held = hold!;
  const once = await storedOnce(stack.indexPrefix, accepted);
  const stored = await storedBytes(stack.indexPrefix);
  const redisKeyBytes = await redisBytesPerKey();
  const busBytes = await busStorageBytes(namespace);
  const endToEndP99Ms = (await histogramQuantile(stack.workers.map((worker) => worker.url), 'sluice_event_end_to_end_seconds', 0.99)) * 1000;
  const heldEvents = held.eventsPerSecond * held.seconds;
  const results = {
    format: 'sluice-capacity/1',
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryBytes: totalmem() },
    versions: { sluice: '0.1.0', ...(await engineVersions()) },
    topology: { apiReplicas: API_REPLICAS, workers: WORKERS, partitions: PARTITIONS },
    profile: PROFILE,
    settings: stack.settings,
    scenario: { name: scenario.name, eventsPerRequest },
    steps,
    figures: {
      eventsPerSecond: Math.round(held.eventsPerSecond),
      requestsPerSecond: held.requestsPerSecond,
      sustainedSeconds: held.ok ? held.seconds : 0,
      p50Ms: held.p50Ms,
      p99Ms: held.p99Ms,
      endToEndP99Ms: Math.round(endToEndP99Ms),
      errors: held.errors,
      ...(held.stealFraction === undefined ? {} : { stealFraction: held.stealFraction }),
      lost: once.lost,
      duplicated: once.duplicated,
    },
    coefficients: {
      apiCpuSecondsPerEvent: cpu!.api / heldEvents,
      workerCpuSecondsPerEvent: cpu!.worker / heldEvents,
      elasticsearchCpuSecondsPerEvent: cpu!.elasticsearch / heldEvents,
      storedBytesPerEvent: stored.bytes / Math.max(1, stored.documents),
      busBytesPerEvent: busBytes / Math.max(1, once.stored),
      redisBytesPerKey: redisKeyBytes,
      eventBytes: eventBytes(),
    },
  };
  const dir = 'load-tests/results';
  mkdirSync(dir, { recursive: true });
  // The one-event capacity scenario is what `sluice size` sizes from; other scenarios' runs are named apart.
  const file = join(dir, `${results.date.slice(0, 10)}-${String(results.machine.cores)}c${scenario.name === 'capacity' ? '' : `-${scenario.name}`}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`results in ${file}; stored ${String(once.stored)} events, ${String(once.unconfirmed)} of them from requests the load generator did not see answered`);
  // A host that took much of the CPU time measured a smaller machine than `machine` says.
  if ((held.stealFraction ?? 0) > STEAL_WARNING) log(`warning: the host took ${((held.stealFraction ?? 0) * 100).toFixed(0)} % of the CPU time during the hold (steal): these figures describe a smaller machine than ${String(results.machine.cores)} cores; measure again when the host is quieter`);
  log(`capacity: ${String(results.figures.eventsPerSecond)} events/s sustained for ${String(results.figures.sustainedSeconds)} s, p99 ${String(held.p99Ms)} ms, errors ${String(held.errors)}, lost ${String(once.lost)}, duplicated ${String(once.duplicated)}`);
  process.exitCode = held.ok && once.lost === 0 && once.duplicated === 0 ? 0 : 1;
} finally {
  await stack.stop();
}
