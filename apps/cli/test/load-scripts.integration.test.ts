// The load tests cannot rot: against `sluice start` (embedded bus and SQLite store) the k6
// compatibility runner (`npm run load:check`) runs one iteration of every k6 script in
// load-tests/ and passes, each writing a summary of the documented shape; broken copies (a
// failing check, an unsupported k6 API or module, a throw, a threshold that does not parse, an
// unreachable Sluice) make it exit 1 naming the script and the cause. The open-model runner
// (`npm run load:run`) runs the mix scenario, both payloads, with every event accepted.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort, startSluice, tempDir, type SluiceProcess } from '@sluice/testkit';
import { validateSummary, type LoadSummary } from '../../../scripts/load/summary.ts';

const ADMIN_TOKEN = 'load-test-admin-token-0123456789';
const SCRIPTS = ['smoke', 'capacity', 'soak', 'spike', 'mix'];

let sluice: SluiceProcess | undefined;
let cleanups: (() => Promise<void>)[] = [];

/** Runs `node <args…>` from the repository root: exit code and everything it printed. */
function node(args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      resolveRun({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, output: `${stdout}${stderr}` });
    });
  });
}

async function outDir(): Promise<string> {
  const dir = await tempDir('sluice-load-out-');
  cleanups.push(dir.cleanup);
  return dir.dir;
}

beforeAll(async () => {
  const data = await tempDir('sluice-load-');
  cleanups.push(data.cleanup);
  sluice = await startSluice('start', { DATA_DIR: data.dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100' });
  // The mix sends most requests to the first (hot) source and the rest to the others.
  const created = await fetch(`${sluice.url}/v1/sources`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'load-cold', name: 'load-cold', allowedOrigins: [] }) });
  expect(created.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await sluice?.stop();
  for (const cleanup of cleanups) await cleanup();
  cleanups = [];
});

describe('npm run load:check (k6 compatibility runner)', () => {
  it('runs one iteration of every k6 script against Sluice: all pass, each summary has the documented shape', async () => {
    const out = await outDir();
    const { code, output } = await node(['scripts/load/compat/run.ts', '--url', sluice!.url, '--source', 'demo,load-cold', '--out-dir', out]);
    expect(output).toContain('k6 compat: 5 of 5 scripts passed');
    expect(code).toBe(0);
    for (const script of SCRIPTS) expect(output).toContain(`k6 compat: ok load-tests/${script}.js`);
    for (const scenario of SCRIPTS.slice(1)) {
      const summary: LoadSummary = validateSummary(JSON.parse(readFileSync(join(out, `${scenario}-summary.json`), 'utf8')), scenario);
      expect(summary).toMatchObject({ runner: 'k6', scenario, url: sluice!.url, errorsByStatus: null, stages: [] });
      expect(summary.totals).toMatchObject({ requests: 1, errors: 0, dropped: 0 });
      expect(summary.totals.events).toBeGreaterThanOrEqual(1);
      expect(summary.totals.latencyMs.max).toBeGreaterThan(0);
      expect(summary.thresholds.map((threshold) => threshold.metric)).toEqual(expect.arrayContaining(['http_req_duration', 'http_req_failed', 'checks']));
    }
  }, 120_000);

  it.each([
    ['failing-check', 'check "status is 201" failed'],
    ['unknown-api', 'scenario default: the iteration threw: K6CompatError: k6/http asyncRequest is a k6 API the compatibility runner (scripts/load/compat) does not support'],
    ['unknown-module', 'the init context threw: K6CompatError: module k6/ws (imported by'],
    ['throws', "scenario default: the iteration threw: TypeError: Cannot read properties of undefined (reading 'field')"],
    ['bad-threshold', 'threshold on http_req_duration: "p99<100" does not parse'],
  ])('a broken script (%s) exits 1 naming the script and the cause', async (fixture, cause) => {
    const script = `load-tests/test/fixtures/${fixture}.js`;
    const { code, output } = await node(['scripts/load/compat/run.ts', '--url', sluice!.url, '--out-dir', await outDir(), script]);
    expect(output).toContain(`k6 compat: FAIL ${script}: ${cause}`);
    expect(output).toContain('k6 compat: 0 of 1 scripts passed');
    expect(code).toBe(1);
  }, 60_000);

  it('a script whose requests cannot reach Sluice fails, naming the request', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, output } = await node(['scripts/load/compat/run.ts', '--url', url, '--out-dir', await outDir(), 'load-tests/smoke.js']);
    expect(output).toContain(`k6 compat: FAIL load-tests/smoke.js: request POST ${url}/track failed:`);
    expect(code).toBe(1);
  }, 60_000);
});

describe('npm run load:run (open-model runner)', () => {
  it('runs the mix, /track and Segment batches of 1, 5 and 20 on two sources: every event accepted, nothing dropped', async () => {
    const out = join(await outDir(), 'mix.json');
    // 500 requests/s × 0.04 = 20/s for 10 min × 0.01 = 6 s: about 120 requests.
    const { code, output } = await node(['scripts/load/runner/run.ts', 'mix', '--url', sluice!.url, '--source', 'demo,load-cold', '--rate-scale', '0.04', '--time-scale', '0.01', '--out', out]);
    expect(output).toMatch(/mix: \d+ requests .*errors 0, dropped 0; thresholds (met|FAILED)/);
    const summary = validateSummary(JSON.parse(readFileSync(out, 'utf8')), 'mix');
    expect(summary).toMatchObject({ runner: 'sluice-load', scenario: 'mix', errorsByStatus: {}, settings: { rateScale: 0.04, timeScale: 0.01, aborted: null } });
    expect(summary.stages).toHaveLength(1);
    expect(summary.stages[0]).toMatchObject({ errors: 0, eventsNotAccepted: 0, dropped: 0 });
    expect(summary.totals.requests).toBeGreaterThan(100);
    // Batches of 5 and 20 make more events than requests.
    expect(summary.totals.events).toBeGreaterThan(summary.totals.requests);
    // Exit 0, or 99 only for a latency threshold on this shared machine, never for errors.
    expect(summary.thresholds.filter((threshold) => !threshold.ok).map((threshold) => threshold.metric)).toEqual(code === 0 ? [] : ['http_req_duration']);
  }, 60_000);
});
