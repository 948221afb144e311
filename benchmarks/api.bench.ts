// `npm run bench:api`: POST /track on the embedded bus vs a bare fastify route, same run.
// Each target runs in its own process; wrk (or autocannon) drives both.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createTestDatabase, mysqlEnv, mysqlTestSettings } from '@sluice/config-store/mysql-testing';
import { freePort, runSluice, startSluice, waitFor, type SluiceProcess } from '@sluice/testkit';
import { aptInstall } from '../scripts/engines/lib.ts';

const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const DURATION_SECONDS = Number(process.env['BENCH_DURATION'] ?? 10);
const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 3);

/** The round with the median requests/s (its latencies with it). */
function medianRound(rounds: Figures[]): Figures {
  const sorted = [...rounds].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (middle === undefined) throw new Error('no rounds');
  return { ...middle, non2xx: rounds.reduce((sum, round) => sum + round.non2xx, 0), errors: rounds.reduce((sum, round) => sum + round.errors, 0) };
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

const SCENARIOS = [
  { name: '1 event, 1 KB', body: payload(1, 1024) },
  { name: '20-event batch', body: payload(20, 200) },
];

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/**
 * The load generator: `wrk` (C, epoll; from Debian, installed when missing) by default, as
 * it leaves the most CPU to the servers on a machine it shares with them; `autocannon`
 * (BENCH_CLIENT=autocannon) needs no install but takes about a core of its own.
 */
const CLIENT = process.env['BENCH_CLIENT'] ?? 'wrk';
if (CLIENT === 'wrk') await aptInstall(['wrk']);
const workDir = await mkdtemp(join(tmpdir(), 'sluice-bench-client-'));

async function load(url: string, body: string): Promise<Figures> {
  if (CLIENT === 'autocannon') {
    const result = await autocannon({ url: `${url}/track`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration: DURATION_SECONDS });
    return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
  }
  const script = join(workDir, 'post.lua');
  await writeFile(join(workDir, 'body.json'), body);
  await writeFile(script, `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nlocal f = io.open("${join(workDir, 'body.json')}", "r")\nwrk.body = f:read("*a")\nf:close()\n`);
  const out = execFileSync('wrk', ['-t1', `-c${String(CONNECTIONS)}`, `-d${String(DURATION_SECONDS)}s`, '--latency', '-s', script, `${url}/track`], { encoding: 'utf8' });
  return parseWrk(out);
}

/** Requests/s, p50 and p99 (ms), non-2xx and socket errors from wrk's report. */
function parseWrk(out: string): Figures {
  const ms = (text: string | undefined) => {
    const match = /([\d.]+)(us|ms|s)/.exec(text ?? '');
    if (!match) return Number.NaN;
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    p50: Number(ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1]).toFixed(1)),
    p99: Number(ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1]).toFixed(1)),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

async function startBare(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['benchmarks/bare-server.ts', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined))?.ok === true, 15_000);
  return { url, child };
}

const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
const bare = await startBare();
const sluice = await startSluice('api', { DATA_DIR: dataDir, LOGGING_LEVEL: 'error', CONFIG_ADAPTER: 'embedded' });
// CONFIG_ADAPTER=mysql: a second Sluice API whose configuration is on the engines' MariaDB
// (a database of its own), measured in the same interleaved rounds; compared with the embedded one.
const mysql = process.env['CONFIG_ADAPTER'] === 'mysql' ? await startMysqlSluice() : undefined;
async function startMysqlSluice(): Promise<{ sluice: SluiceProcess; dataDir: string; drop(): Promise<void> }> {
  const { database, drop } = await createTestDatabase();
  const env = { ...mysqlEnv(mysqlTestSettings(database)), LOGGING_LEVEL: 'error' };
  for (const args of [['init'], ['sources', 'add', 'demo', '--origin', '*']]) {
    const run = await runSluice(args, env);
    if (run.code !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${run.output}`);
  }
  const mysqlDataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-mysql-'));
  return { sluice: await startSluice('api', { ...env, DATA_DIR: mysqlDataDir }), dataDir: mysqlDataDir, drop };
}
const rows: string[] = [];
/** Per scenario, Sluice vs bare in each interleaved round (how much the ratio moves). */
const spreads: string[] = [];
try {
  for (const scenario of SCENARIOS) {
    // Each target gets the same warm-up run (JIT, connection pools), then REPEAT measured
    // rounds, interleaved, and the median round is reported (this machine is noisy).
    await load(bare.url, scenario.body);
    await load(sluice.url, scenario.body);
    if (mysql !== undefined) await load(mysql.sluice.url, scenario.body);
    const bareRounds: Figures[] = [];
    const sluiceRounds: Figures[] = [];
    const mysqlRounds: Figures[] = [];
    for (let round = 0; round < REPEAT; round += 1) {
      bareRounds.push(await load(bare.url, scenario.body));
      sluiceRounds.push(await load(sluice.url, scenario.body));
      if (mysql !== undefined) mysqlRounds.push(await load(mysql.sluice.url, scenario.body));
    }
    const baseline = medianRound(bareRounds);
    const tracked = medianRound(sluiceRounds);
    const ratio = tracked.requestsPerSecond / baseline.requestsPerSecond;
    rows.push(
      `| ${scenario.name} | bare fastify route | ${baseline.requestsPerSecond.toFixed(0)} | ${baseline.p50} | ${baseline.p99} | |`,
      `| ${scenario.name} | Sluice /track, embedded bus (fsync) | ${tracked.requestsPerSecond.toFixed(0)} | ${tracked.p50} | ${tracked.p99} | ${(ratio * 100).toFixed(0)}% |`,
    );
    if (mysql !== undefined) {
      const onMysql = medianRound(mysqlRounds);
      rows.push(`| ${scenario.name} | Sluice /track, CONFIG_ADAPTER=mysql (${(onMysql.requestsPerSecond / tracked.requestsPerSecond * 100).toFixed(0)}% of embedded) | ${onMysql.requestsPerSecond.toFixed(0)} | ${onMysql.p50} | ${onMysql.p99} | ${((onMysql.requestsPerSecond / baseline.requestsPerSecond) * 100).toFixed(0)}% |`);
      if (onMysql.non2xx > 0 || onMysql.errors > 0) rows.push(`| ${scenario.name} | (mysql non-2xx: ${onMysql.non2xx}, errors: ${onMysql.errors}) | | | | |`);
    }
    spreads.push(`${scenario.name}: ${sluiceRounds.map((round, at) => `${((round.requestsPerSecond / (bareRounds[at]?.requestsPerSecond ?? Number.NaN)) * 100).toFixed(0)}%`).join(', ')}`);
    if (tracked.non2xx > 0 || tracked.errors > 0) rows.push(`| ${scenario.name} | (Sluice non-2xx: ${tracked.non2xx}, errors: ${tracked.errors}) | | | | |`);
  }
} finally {
  bare.child.kill('SIGTERM');
  await sluice.stop();
  if (mysql !== undefined) {
    await mysql.sluice.stop();
    await mysql.drop();
    await rm(mysql.dataDir, { recursive: true, force: true });
  }
  await rm(dataDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
}

process.stdout.write(
  [
    `POST /track, ${CLIENT}, ${CONNECTIONS} connections, median of ${REPEAT} interleaved ${DURATION_SECONDS} s rounds after a warm-up run each, ${cpus().length} cores, Node ${process.version}`,
    '',
    '| Payload | Target | Requests/s | p50 ms | p99 ms | vs bare |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    'Sluice vs bare, round by round:',
    ...spreads.map((line) => `- ${line}`),
    '',
  ].join('\n'),
);
