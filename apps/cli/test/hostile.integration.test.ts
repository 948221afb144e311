// Hostile input against a running Sluice: every case answers a coded 4xx, or a 200 whose
// events are stored; after each, a valid canary must be stored within seconds. Run on the
// all-in-one with embedded adapters and on the production path (Pulsar + Elasticsearch).
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { elasticAsSuperuser, engineEnv, randomName, startSluice, tempDir, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'hostile-test-admin-token-123';
const es = engineEnv('elasticsearch');
const pulsar = engineEnv('pulsar');

/** What a case expects: a coded 4xx, or a 200 whose listed events are then read back. */
type Expected = { readonly status: number; readonly code: string } | { readonly status: 200; readonly stored: { profile: string; ids: string[] } };

interface Answer {
  readonly status: number;
  readonly body: string;
}

const json = (value: unknown) => JSON.stringify(value);
const body = (events: unknown[], extra: Record<string, unknown> = {}) => json({ source: { id: 'demo' }, session: { id: 'hostile-session' }, profile: { id: 'hostile-profile' }, events, ...extra });
const id128 = `a${'b'.repeat(126)}z`;

/** Sends raw bytes over a socket and reads until the server closes or `idleMs` passes; returns the status line's code (0 if none). */
function raw(url: string, chunks: readonly (string | Buffer)[], options: { gapMs?: number; idleMs?: number } = {}): Promise<Answer & { closed: boolean; elapsedMs: number }> {
  const { port, hostname } = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(idle);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, body: received.slice(received.indexOf('\r\n\r\n') + 4), closed, elapsedMs: Date.now() - started });
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(finish, options.idleMs ?? 3000);
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      armIdle();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) break;
        socket.write(chunk);
        if (options.gapMs !== undefined) await new Promise((next) => setTimeout(next, options.gapMs));
      }
      armIdle();
    });
  });
}

async function post(url: string, payload: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${url}/track`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
  return { status: response.status, body: await response.text() };
}

async function storedIds(url: string, profile: string): Promise<string[]> {
  const response = await fetch(`${url}/v1/profiles/${encodeURIComponent(profile)}/events?limit=1000`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!response.ok) return [];
  return ((await response.json()) as { events: { id: string }[] }).events.map((event) => event.id);
}

/** The hostile cases: a name, how to send it, and what must come back. */
function cases(url: () => string): [string, () => Promise<Answer>, Expected][] {
  const track = (payload: string | Buffer, headers?: Record<string, string>) => () => post(url(), payload, headers);
  const profile = (name: string) => `hostile-${name}`;
  return [
    ['properties 5,000 arrays deep (a 10 KB body)', track(`{"source":{"id":"demo"},"events":[{"type":"a","properties":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}]}`), { status: 400, code: 'NESTING_TOO_DEEP' }],
    ['an object 10,000 deep in a 200 KB body', track(`{"source":{"id":"demo"},"events":[{"type":"a","properties":{"pad":"${'x'.repeat(200_000)}","x":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}}]}`), { status: 400, code: 'NESTING_TOO_DEEP' }],
    ['properties nested as deep as the limit allows', track(body([{ id: 'deep-ok', type: 'a', properties: JSON.parse(`${'{"a":'.repeat(28)}1${'}'.repeat(28)}`) as object }], { profile: { id: profile('deep') } })), { status: 200, stored: { profile: profile('deep'), ids: ['deep-ok'] } }],
    ['30,000 keys', track(body([{ type: 'a', properties: Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`k${i}`, 1])) }])), { status: 413, code: 'TOO_MANY_KEYS' }],
    ['1,000 distinct keys', track(body([{ id: 'keys-ok', type: 'a', properties: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])) }], { profile: { id: profile('keys') } })), { status: 200, stored: { profile: profile('keys'), ids: ['keys-ok'] } }],
    ['a leap second', track(body([{ id: 'leap', type: 'a', time: '2016-12-31T23:59:60Z' }], { profile: { id: profile('leap') } })), { status: 200, stored: { profile: profile('leap'), ids: ['leap'] } }],
    ['odd but valid times (year 1, year 9999, lower-case, nanoseconds, offsets)', track(body([{ id: 't1', type: 'a', time: '0001-01-01T00:00:00Z' }, { id: 't2', type: 'a', time: '9999-12-31T23:59:59.999Z' }, { id: 't3', type: 'a', time: '2026-01-01t00:00:00.123456789z' }, { id: 't4', type: 'a', time: '2026-01-01T00:00:00-23:59' }], { profile: { id: profile('times') } })), { status: 200, stored: { profile: profile('times'), ids: ['t1', 't2', 't3', 't4'] } }],
    ['an hour-only offset', track(body([{ type: 'a', time: '2026-01-01T00:00:00+00' }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['second 61', track(body([{ type: 'a', time: '2016-12-31T23:59:61Z' }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['a time past year 9999 in UTC', track(body([{ type: 'a', time: '9999-12-31T23:00:00-02:00' }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['a six-digit year', track(body([{ type: 'a', time: '+275760-09-13T00:00:00Z' }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['a time that is a number', track(body([{ type: 'a', time: 1_700_000_000 }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['a 128-character event id', track(body([{ id: id128, type: 'a' }], { profile: { id: profile('id128') } })), { status: 200, stored: { profile: profile('id128'), ids: [id128] } }],
    ['a 129-character id', track(body([{ id: `${id128}x`, type: 'a' }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['an id with a slash', track(body([{ id: 'a/b', type: 'a' }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['an id with a non-ASCII letter', track(body([{ id: 'café', type: 'a' }])), { status: 400, code: 'VALIDATION_FAILED' }],
    ['two events with one id', track(body([{ id: 'dup', type: 'a' }, { id: 'dup', type: 'b' }])), { status: 400, code: 'DUPLICATE_EVENT_ID' }],
    ['a source id of 129 characters', track(json({ source: { id: `${id128}x` }, events: [{ type: 'a' }] })), { status: 400, code: 'VALIDATION_FAILED' }],
    ['payload-level properties copied into 100 events', track(body(Array.from({ length: 100 }, () => ({ type: 'a' })), { properties: { blob: 'x'.repeat(60_000) } })), { status: 413, code: 'PROPERTIES_TOO_LARGE' }],
    ['101 events', track(body(Array.from({ length: 101 }, () => ({ type: 'a' })))), { status: 413, code: 'TOO_MANY_EVENTS' }],
    ['numbers that overflow, NUL, lone surrogates and odd Unicode in strings', track(`{"source":{"id":"demo"},"profile":{"id":"${profile('strings')}"},"events":[{"id":"strings","type":"a","properties":{"big":1e400,"nul":"a\\u0000b","lone":"\\ud800x","rtl":"\u202e\u{1f600}"}}]}`), { status: 200, stored: { profile: profile('strings'), ids: ['strings'] } }],
    ['a key holding U+0000 (no store can index it)', track(`{"source":{"id":"demo"},"events":[{"type":"a","properties":{"ok":{"k\\u0000ey":true}}}]}`), { status: 400, code: 'VALIDATION_FAILED' }],
    ['prototype-poisoning keys', track(`{"source":{"id":"demo"},"events":[{"type":"a","properties":{"__proto__":{"polluted":true}}}]}`), { status: 400, code: 'VALIDATION_FAILED' }],
    ['invalid JSON', track('{"source":{"id":"demo"},"events":[{"type":"a"'), { status: 400, code: 'INVALID_JSON' }],
    ['a gzip-compressed body', track(gzipSync(body([{ type: 'a' }])), { 'content-encoding': 'gzip' }), { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }],
    ['a 2 MB body', track(body([{ type: 'a', properties: { blob: 'x'.repeat(2 * 1024 * 1024) } }])), { status: 413, code: 'BODY_TOO_LARGE' }],
    ['an 8 MB body written before the answer is read', async () => {
      const payload = Buffer.alloc(8 * 1024 * 1024, 0x61);
      const chunks = [`POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`, ...Array.from({ length: 128 }, (_, i) => payload.subarray(i * 65536, (i + 1) * 65536))];
      return raw(url(), chunks, { gapMs: 1 });
    }, { status: 413, code: 'BODY_TOO_LARGE' }],
    ['a bad Content-Length', () => raw(url(), ['POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}']), { status: 400, code: 'MALFORMED_REQUEST' }],
    ['64 KB of headers', () => raw(url(), [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'x'.repeat(64 * 1024)}\r\n\r\n`]), { status: 431, code: 'HEADERS_TOO_LARGE' }],
    ['a header line every 1.5 s (slow headers)', () => raw(url(), ['POST /track HTTP/1.1\r\n', 'Host: x\r\n', 'X-A: 1\r\n', 'X-B: 1\r\n', 'X-C: 1\r\n', 'X-D: 1\r\n'], { gapMs: 1500 }), { status: 408, code: 'REQUEST_TIMEOUT' }],
    ['a body byte every 1.5 s (slow body)', () => raw(url(), ['POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n', '{', '"', 's', 'o', 'u', 'r'], { gapMs: 1500 }), { status: 408, code: 'REQUEST_TIMEOUT' }],
  ];
}

const deployments: [string, () => Promise<Record<string, string>>, () => Promise<void>][] = [
  ['the all-in-one on embedded adapters', async () => ({}), async () => undefined],
  [
    'the all-in-one on Pulsar and Elasticsearch',
    async () => ({
      BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: pulsar['PULSAR_WEB_HOST']!, PULSAR_NAMESPACE: productionNames.namespace, PULSAR_TOPIC_PARTITIONS: '2',
      STORE_ADAPTER: 'elasticsearch', ...es, TENANT_NAME: productionNames.tenant, ELASTIC_INDEX_SHARDS: '1', ELASTIC_INDEX_REPLICAS: '0',
    }),
    async () => {
      await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/namespaces/public/${productionNames.namespace}?force=true`, { method: 'DELETE' }).catch(() => undefined);
      const indices = (await elasticAsSuperuser('GET', `/_cat/indices/${productionNames.tenant}-sluice-*?format=json`)) as { index: string }[];
      if (indices.length > 0) await elasticAsSuperuser('DELETE', `/${indices.map((index) => index.index).join(',')}`);
      await elasticAsSuperuser('DELETE', `/_index_template/${productionNames.tenant}-sluice-events`).catch(() => undefined);
    },
  ],
];
const productionNames = { namespace: randomName('hostile-'), tenant: randomName('hostile') };


describe.each(deployments)('hostile input against %s', (_name, environment, teardown) => {
  let sluice: SluiceProcess;
  let cleanup: () => Promise<void>;
  let canaries = 0;

  beforeAll(async () => {
    const temp = await tempDir('sluice-hostile-');
    cleanup = temp.cleanup;
    sluice = await startSluice('start', { DATA_DIR: temp.dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100', ELASTIC_REFRESH_INTERVAL: '100ms', HTTP_HEADERS_TIMEOUT: '3000', HTTP_REQUEST_TIMEOUT: '4000', ...(await environment()) }, 90_000);
  }, 120_000);

  afterAll(async () => {
    const exitCode = await sluice.stop();
    await teardown();
    await cleanup();
    expect(sluice.output()).not.toMatch(/"level":"(error|fatal)"|unexpected error|Maximum call stack/);
    expect(exitCode).toBe(0);
  }, 60_000);

  it.each(cases(() => sluice.url))('%s: a coded answer, then a canary is stored', async (_case, send, expected) => {
    const answer = await send();
    expect(answer.status).toBe(expected.status);
    if ('code' in expected) expect(JSON.parse(answer.body)).toMatchObject({ statusCode: expected.status, code: expected.code });
    else await waitFor(async () => { const stored = await storedIds(sluice.url, expected.stored.profile); return expected.stored.ids.every((id) => stored.includes(id)); }, 10_000, () => `events of ${expected.stored.profile} not stored`);
    canaries += 1;
    const canary = `canary-${canaries}`;
    const sent = await post(sluice.url, body([{ id: canary, type: 'canary' }], { profile: { id: canary } }));
    expect(sent.status).toBe(200);
    await waitFor(async () => (await storedIds(sluice.url, canary)).includes(canary), 10_000, () => `canary ${canary} was not stored after "${_case}"`);
  }, 60_000);
});
