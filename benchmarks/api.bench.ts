// `npm run bench:api`: POST /track on the embedded bus vs a bare fastify route, same run.
// Each target runs in its own process; autocannon drives both from this one.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, startSluice, waitFor } from '@sluice/testkit';

const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const DURATION_SECONDS = Number(process.env['BENCH_DURATION'] ?? 10);

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

async function load(url: string, body: string): Promise<Figures> {
  const result = await autocannon({ url: `${url}/track`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration: DURATION_SECONDS });
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
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
const sluice = await startSluice('api', { DATA_DIR: dataDir, LOGGING_LEVEL: 'error' });
const rows: string[] = [];
try {
  for (const scenario of SCENARIOS) {
    // Each target gets the same warm-up run (JIT, connection pools) before the measured one.
    await load(bare.url, scenario.body);
    const baseline = await load(bare.url, scenario.body);
    await load(sluice.url, scenario.body);
    const tracked = await load(sluice.url, scenario.body);
    const ratio = tracked.requestsPerSecond / baseline.requestsPerSecond;
    rows.push(
      `| ${scenario.name} | bare fastify route | ${baseline.requestsPerSecond.toFixed(0)} | ${baseline.p50} | ${baseline.p99} | |`,
      `| ${scenario.name} | Sluice /track, embedded bus (fsync) | ${tracked.requestsPerSecond.toFixed(0)} | ${tracked.p50} | ${tracked.p99} | ${(ratio * 100).toFixed(0)}% |`,
    );
    if (tracked.non2xx > 0 || tracked.errors > 0) rows.push(`| ${scenario.name} | (Sluice non-2xx: ${tracked.non2xx}, errors: ${tracked.errors}) | | | | |`);
  }
} finally {
  bare.child.kill('SIGTERM');
  await sluice.stop();
  await rm(dataDir, { recursive: true, force: true });
}

process.stdout.write(
  [
    `POST /track, ${CONNECTIONS} connections, ${DURATION_SECONDS} s per run, each after a warm-up run of its own, ${cpus().length} cores, Node ${process.version}`,
    '',
    '| Payload | Target | Requests/s | p50 ms | p99 ms | vs bare |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n'),
);
