import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { SPECS } from '@sluice/config';
import { REPO_ROOT, randomName, startSluice, tempDir, trackEvents, type SluiceProcess } from '@sluice/testkit';

const execFileAsync = promisify(execFile);
const tag = randomName('');

/** Every secret setting, each with a value found nowhere else. */
const SECRET_SETTINGS: Record<string, string> = {
  ADMIN_TOKEN: `admin-token-${tag}-q81xk4p9`,
  PULSAR_AUTH_TOKEN: `pulsar-token-${tag}-7hq2ma`,
  ELASTIC_HTTP_AUTH_PASSWORD: `elastic-password-${tag}-bv93`,
  ELASTIC_API_KEY: `elastic-api-key-${tag}-x72m`,
  REDIS_PASSWORD: `redis-password-${tag}-k3m9`,
  JOBS_REDIS_PASSWORD: `jobs-redis-password-${tag}-w4n8`,
  MYSQL_PASSWORD: `mysql-password-${tag}-r5t2`,
};

/** Every URL setting, with credentials embedded (a password holding `@` and `%`-escapes too). */
const URL_PASSWORDS = {
  REDIS_HOST: `redis-url-pw-${tag}`,
  JOBS_REDIS_HOST: `jobs-redis-url-pw-${tag}`,
  ELASTIC_HOST_1: `elastic-url-pw-one-${tag}`,
  ELASTIC_HOST_2: `elastic-url-pw-two-${tag}`,
  PULSAR_WEB_HOST: `pulsar-web-url-pw-${tag}`,
  PULSAR_HOST: `pulsar-url-pw-${tag}`,
};
const URL_SETTINGS: Record<string, string> = {
  REDIS_HOST: `redis://:${URL_PASSWORDS.REDIS_HOST}@127.0.0.1:6379/0`,
  JOBS_REDIS_HOST: `rediss://jobs:${URL_PASSWORDS.JOBS_REDIS_HOST}@127.0.0.1:6380/1`,
  ELASTIC_HOST: `https://elastic:${URL_PASSWORDS.ELASTIC_HOST_1}@127.0.0.1:9200,https://elastic:${URL_PASSWORDS.ELASTIC_HOST_2}%40x@127.0.0.1:9201`,
  PULSAR_WEB_HOST: `https://sluice:${URL_PASSWORDS.PULSAR_WEB_HOST}@127.0.0.1:8080`,
  PULSAR_HOST: `pulsar+ssl://sluice:${URL_PASSWORDS.PULSAR_HOST}@127.0.0.1:6651`,
};

/** The values that must never be seen: secrets, and URL passwords as written and decoded. */
const NEVER_SHOWN = [...Object.values(SECRET_SETTINGS), ...Object.values(URL_PASSWORDS), `${URL_PASSWORDS.ELASTIC_HOST_2}@x`];

const ENV = { ...SECRET_SETTINGS, ...URL_SETTINGS };

/** Every piece of output collected: stdout, stderr, HTTP bodies and headers. */
const seen: { what: string; text: string }[] = [];
const record = (what: string, text: string) => seen.push({ what, text });

let cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  cleanups = [];
});

async function sluiceCommand(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['apps/cli/src/bin.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

async function http(what: string, url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, init);
  const body = await response.clone().text();
  record(`${what}: HTTP ${String(response.status)}`, `${JSON.stringify([...response.headers])}\n${body}`);
  return response;
}

/** Sends raw bytes and returns what came back (for errors produced before any route). */
function raw(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
  });
}

describe('secrets stay secret', () => {
  it('the test sets every secret setting and credentials in every URL setting (a new one must be added here)', () => {
    const specs = Object.values(SPECS) as { name: string; secret?: boolean; unit: string }[];
    expect(specs.filter((spec) => spec.secret === true).map((spec) => spec.name).sort()).toEqual(Object.keys(SECRET_SETTINGS).sort());
    expect(specs.filter((spec) => /^URLs?$/.test(spec.unit)).map((spec) => spec.name).sort()).toEqual(Object.keys(URL_SETTINGS).sort());
  });

  it('appear nowhere: config check, a rejected config, the all-in-one at debug level with failing requests, /readyz, /metrics', async () => {
    const { dir, cleanup } = await tempDir('sluice-secrets-');
    cleanups.push(cleanup);

    const check = await sluiceCommand(['config', 'check'], ENV);
    record('sluice config check', check.output);
    expect(check.code).toBe(0);
    const printed = JSON.parse(check.output) as { http: { adminToken: string }; elastic: { password: string; apiKey: string; nodes: string[] }; pulsar: { authToken: string; webHost: string }; redis: { url: string; password: string } };
    // Set secrets show as set, and URLs keep their hosts.
    expect(printed).toMatchObject({ http: { adminToken: '[redacted]' }, elastic: { password: '[redacted]', apiKey: '[redacted]' }, pulsar: { authToken: '[redacted]' }, redis: { password: '[redacted]' } });
    expect(printed.elastic.nodes).toEqual(['https://***@127.0.0.1:9200', 'https://***@127.0.0.1:9201']);
    expect(printed.redis.url).toBe('redis://***@127.0.0.1:6379/0');

    // An invalid value next to the secrets: the problem is listed, no secret is.
    const rejected = await sluiceCommand(['config', 'check'], { ...ENV, REDIS_HOST: `redis://:${URL_PASSWORDS.REDIS_HOST}@127.0.0.1:notaport`, ADMIN_TOKEN: 'short' });
    record('sluice config check (invalid)', rejected.output);
    expect(rejected.code).not.toBe(0);
    expect(rejected.output).toContain('REDIS_HOST');
    expect(rejected.output).toContain('ADMIN_TOKEN');

    let sluice: SluiceProcess | undefined;
    try {
      sluice = await startSluice('start', { ...ENV, DATA_DIR: dir, LOGGING_LEVEL: 'debug' });
      const adminToken = SECRET_SETTINGS['ADMIN_TOKEN'] ?? '';
      const admin = { authorization: `Bearer ${adminToken}` };
      expect(await trackEvents(sluice.url, 'secret-profile', ['secret-event-1'], 'secrets-test')).toBe(200);
      await http('track: invalid JSON', `${sluice.url}/track`, { method: 'POST', headers: { 'content-type': 'application/json', ...admin }, body: '{"source": {' });
      await http('track: unknown source', `${sluice.url}/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: { id: 'nope' }, events: [{ type: 'x' }] }) });
      await http('admin: wrong token', `${sluice.url}/v1/sources`, { headers: { authorization: `Bearer ${adminToken}x` } });
      await http('admin: no such source', `${sluice.url}/v1/sources/missing`, { headers: admin });
      await http('admin: bad body', `${sluice.url}/v1/sources`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ id: adminToken, name: 1 }) });
      await http('admin: list', `${sluice.url}/v1/sources`, { headers: admin });
      record('raw: headers too large', await raw(sluice.url, `GET /readyz HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${adminToken}\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`));
      record('raw: malformed', await raw(sluice.url, `POST /track HTTP/1.1\r\nauthorization: Bearer ${adminToken}\r\ncontent-length: abc\r\n\r\n`));

      const anonymous = await http('readyz (anonymous)', `${sluice.url}/readyz`);
      const anonymousText = await anonymous.text();
      // No filesystem path for anonymous callers; numbers and flags only.
      expect(anonymousText).not.toContain(dir);
      expect(anonymousText).not.toMatch(/"\/[^"]*"/);
      const detailed = await http('readyz (admin)', `${sluice.url}/readyz`, { headers: admin });
      expect(await detailed.text()).toContain(dir);
      await http('metrics', `${sluice.url}/metrics`);
    } finally {
      if (sluice !== undefined) {
        await sluice.stop();
        record('all-in-one stdout and stderr', sluice.output());
      }
    }
    // The all-in-one did log at debug level (the check below is not vacuous).
    expect(seen.find((entry) => entry.what === 'all-in-one stdout and stderr')?.text).toMatch(/"level":"(debug|info|warn)"/);

    const leaks = seen.flatMap(({ what, text }) => NEVER_SHOWN.filter((secret) => text.includes(secret)).map((secret) => `${secret} in ${what}`));
    expect(leaks).toEqual([]);
  });
});
