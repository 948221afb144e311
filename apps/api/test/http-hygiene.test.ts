import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { ERROR_CATALOGUE } from '@sluice/core';
import { ADMIN_TOKEN, startHarness, trackBody, type Harness } from './harness.ts';

// The API over a real socket: what HTTP clients (and hostile ones) see before and around routes.
let h: Harness;
let port: number;
beforeAll(async () => {
  h = await startHarness({ HTTP_HEADERS_TIMEOUT: '1000', HTTP_REQUEST_TIMEOUT: '2000', HTTP_KEEP_ALIVE_TIMEOUT: '1500' });
  await h.api.app.listen({ host: '127.0.0.1', port: 0 });
  const address = h.api.app.server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
});
afterAll(() => h.close());

const url = (path: string) => `http://127.0.0.1:${String(port)}${path}`;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Every error body is the catalogue's: `{ statusCode, code, error, message }`, status and code agreeing. */
function expectCatalogueError(status: number, body: unknown, code: keyof typeof ERROR_CATALOGUE): void {
  expect(body).toMatchObject({ statusCode: status, code, error: expect.any(String), message: expect.any(String) });
  expect(ERROR_CATALOGUE[code].statusCode).toBe(status);
}

interface RawExchange {
  /** Everything the server sent, as text. */
  readonly text: string;
  /** The status of the first response line, or undefined. */
  readonly status: number | undefined;
  /** The JSON body of the (only) response, or undefined. */
  readonly json: unknown;
  /** Milliseconds from connect until the server closed the connection. */
  readonly closedAfterMs: number;
}

/** Opens a raw TCP connection, lets `drive` write to it, and collects what comes back until the server closes. */
function rawExchange(drive: (socket: Socket) => void | Promise<void>, timeoutMs = 10_000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${String(timeoutMs)} ms; got: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const bodyText = text.split('\r\n\r\n')[1];
      let json: unknown;
      try {
        json = bodyText === undefined ? undefined : JSON.parse(bodyText);
      } catch {
        json = undefined;
      }
      resolve({ text, status: status === undefined ? undefined : Number(status), json, closedAfterMs: Date.now() - startedAt });
    });
    socket.on('connect', () => {
      void Promise.resolve(drive(socket)).catch(() => undefined);
    });
  });
}

/** Writes `parts` one by one, `intervalMs` apart, while the socket is open. */
async function trickle(socket: Socket, parts: readonly string[], intervalMs: number): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed) return;
    socket.write(part);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('slow clients', () => {
  it('cuts off a client that sends one header line at a time: 408 REQUEST_TIMEOUT, connection closed (HTTP_HEADERS_TIMEOUT)', async () => {
    const headerLines = ['POST /track HTTP/1.1\r\n', ...Array.from({ length: 40 }, (_, n) => `x-slow-${String(n)}: 1\r\n`)];
    const exchange = await rawExchange((socket) => trickle(socket, headerLines, 400));
    expectCatalogueError(408, exchange.json, 'REQUEST_TIMEOUT');
    expect(exchange.status).toBe(408);
    // 1 s deadline, checked every 0.5 s; far less than the 16 s the trickle would take.
    expect(exchange.closedAfterMs).toBeLessThan(3000);
  });

  it('cuts off a client that sends one body byte at a time: 408 REQUEST_TIMEOUT, connection closed (HTTP_REQUEST_TIMEOUT)', async () => {
    const body = JSON.stringify(trackBody());
    const head = `POST /track HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${String(body.length)}\r\n\r\n`;
    const exchange = await rawExchange((socket) => trickle(socket, [head, ...body.split('')], 300));
    expect(exchange.status).toBe(408);
    expectCatalogueError(408, exchange.json, 'REQUEST_TIMEOUT');
    expect(exchange.closedAfterMs).toBeLessThan(4000);
  });

  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT', async () => {
    const exchange = await rawExchange((socket) => {
      socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    expect(exchange.status).toBe(200);
    expect(exchange.closedAfterMs).toBeGreaterThanOrEqual(1400);
    expect(exchange.closedAfterMs).toBeLessThan(4000);
  });
});

describe('HTTP-level errors answer in the catalogue shape', () => {
  it('431 HEADERS_TOO_LARGE for headers over 16 KiB', async () => {
    const exchange = await rawExchange((socket) => {
      socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    });
    expect(exchange.status).toBe(431);
    expectCatalogueError(431, exchange.json, 'HEADERS_TOO_LARGE');
  });

  it.each([
    ['a Content-Length that is not a number', 'POST /track HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: abc\r\n\r\n{}'],
    ['two different Content-Lengths', 'POST /track HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}'],
    ['Content-Length with chunked encoding', 'POST /track HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'],
    ['a malformed request line', 'GET /healthz HTTP/9.x\r\n\r\n'],
    ['a header without a colon', 'GET /healthz HTTP/1.1\r\nhost: x\r\nnot a header\r\n\r\n'],
  ])('400 MALFORMED_REQUEST for %s', async (_name, request) => {
    const exchange = await rawExchange((socket) => {
      socket.write(request);
    });
    expect(exchange.status).toBe(400);
    expectCatalogueError(400, exchange.json, 'MALFORMED_REQUEST');
  });

  it('400 MALFORMED_REQUEST for a malformed URL, 404 NOT_FOUND for an unknown route, 405 METHOD_NOT_ALLOWED (with Allow) for a known path', async () => {
    const badUrl = await fetch(url('/v1/sources/%E0%A4%A'), { headers: auth });
    expectCatalogueError(400, await badUrl.json(), 'MALFORMED_REQUEST');
    const unknown = await fetch(url('/nowhere'));
    expectCatalogueError(404, await unknown.json(), 'NOT_FOUND');
    const wrongMethod = await fetch(url('/track'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    expectCatalogueError(405, await wrongMethod.json(), 'METHOD_NOT_ALLOWED');
    expect(wrongMethod.headers.get('allow')).toBe('OPTIONS, POST');
    const getTrack = await fetch(url('/track'));
    expectCatalogueError(405, await getTrack.json(), 'METHOD_NOT_ALLOWED');
    const postSource = await fetch(url(`/v1/sources/${'s'.repeat(10)}`), { method: 'POST', headers: auth });
    expectCatalogueError(405, await postSource.json(), 'METHOD_NOT_ALLOWED');
    expect(postSource.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');
  });

  it('415 UNSUPPORTED_MEDIA_TYPE, and 413 BODY_TOO_LARGE to fetch', async () => {
    const xml = await fetch(url('/track'), { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
    expectCatalogueError(415, await xml.json(), 'UNSUPPORTED_MEDIA_TYPE');
    const big = await fetch(url('/track'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(trackBody({ pad: 'x'.repeat(2 * 1024 * 1024) })) });
    expectCatalogueError(413, await big.json(), 'BODY_TOO_LARGE');
  });

  it('answers 413 BODY_TOO_LARGE to a client that writes its whole 8 MB body before reading, and keeps serving', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024, 'a');
    let wroteAll = false;
    // Like a blocking client (Python's sendall, curl without Expect): each 64 KiB waits until the kernel took the last.
    const exchange = await rawExchange(async (socket) => {
      const write = (chunk: string | Buffer) => new Promise<void>((resolve, reject) => socket.write(chunk, (error) => (error ? reject(error) : resolve())));
      await write(`POST /track HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${String(body.length)}\r\n\r\n`);
      for (let offset = 0; offset < body.length; offset += 64 * 1024) await write(body.subarray(offset, offset + 64 * 1024));
      wroteAll = true;
    });
    expect(wroteAll).toBe(true);
    expect(exchange.status).toBe(413);
    expectCatalogueError(413, exchange.json, 'BODY_TOO_LARGE');
    expect((await fetch(url('/healthz'))).status).toBe(200);
  });
});

describe('ids in admin URLs', () => {
  it('every admin URL takes an id of 128 characters (the longest the API accepts), percent-encoded too', async () => {
    const id = `a${'b'.repeat(120)}:x@y.z-`;
    expect(id).toHaveLength(128);
    const created = await fetch(url('/v1/sources'), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ id, name: 'Long id' }) });
    expect(created.status).toBe(201);
    const encoded = encodeURIComponent(id);
    expect((await (await fetch(url(`/v1/sources/${encoded}`), { headers: auth })).json())).toMatchObject({ id });
    const fullyEncoded = [...id].map((char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    expect((await (await fetch(url(`/v1/sources/${fullyEncoded}`), { headers: auth })).json())).toMatchObject({ id });
    const disabled = await fetch(url(`/v1/sources/${encoded}`), { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ enabled: false }) });
    expect(await disabled.json()).toMatchObject({ id, enabled: false });
    for (const path of [`/v1/profiles/${encoded}`, `/v1/profiles/${encoded}/events`, `/v1/events/${encoded}`]) {
      const response = await fetch(url(path), { headers: auth });
      // Found nothing (404 NOT_FOUND, or an empty page of events), never 414.
      if (response.status === 200) expect(await response.json()).toEqual({ events: [] });
      else expectCatalogueError(404, await response.json(), 'NOT_FOUND');
    }
    expect((await fetch(url(`/v1/sources/${encoded}`), { method: 'DELETE', headers: auth })).status).toBe(204);
  });

  it('an id longer than any the API accepts answers a coded 4xx, never an uncoded one', async () => {
    const tooLong = await fetch(url(`/v1/sources/${'c'.repeat(200)}`), { headers: auth });
    expectCatalogueError(400, await tooLong.json(), 'VALIDATION_FAILED');
    const wayTooLong = await fetch(url(`/v1/sources/${'c'.repeat(400)}`), { headers: auth });
    expectCatalogueError(414, await wayTooLong.json(), 'URI_TOO_LONG');
  });
});

describe('HTTP odds', () => {
  it('400 MALFORMED_REQUEST in the catalogue shape for an HTTP/1.1 request without Host; HTTP/1.0 needs none', async () => {
    const exchange = await rawExchange((socket) => {
      socket.write('GET /healthz HTTP/1.1\r\n\r\n');
    });
    expect(exchange.status).toBe(400);
    expectCatalogueError(400, exchange.json, 'MALFORMED_REQUEST');
    expect((exchange.json as { message: string }).message).toMatch(/Host/);
    const old = await rawExchange((socket) => {
      socket.write('GET /healthz HTTP/1.0\r\n\r\n');
    });
    expect(old.text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('takes the bearer scheme in any case (RFC 9110), on the admin API and /readyz', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      expect({ scheme, status: (await fetch(url('/v1/sources'), { headers: { authorization: `${scheme} ${ADMIN_TOKEN}` } })).status }).toEqual({ scheme, status: 200 });
    }
    expect((await fetch(url('/v1/sources'), { headers: { authorization: `Basic ${ADMIN_TOKEN}` } })).status).toBe(401);
    expect((await fetch(url('/v1/sources'), { headers: { authorization: `bearer${ADMIN_TOKEN}` } })).status).toBe(401);
    /** The text values of a /readyz body: only callers with the admin token see any. */
    const texts = async (authorization?: string) => JSON.stringify(await (await fetch(url('/readyz'), authorization === undefined ? {} : { headers: { authorization } })).json()).match(/:"/g)?.length ?? 0;
    const anonymous = await texts();
    expect(await texts(`Bearer ${ADMIN_TOKEN}`)).toBeGreaterThan(anonymous);
    expect(await texts(`bearer ${ADMIN_TOKEN}`)).toBe(await texts(`Bearer ${ADMIN_TOKEN}`));
  });

  it.each([
    ['__proto__', '{"source":{"id":"demo"},"events":[{"type":"a","properties":{"__proto__":{"admin":true}}}]}'],
    ['constructor', '{"source":{"id":"demo"},"events":[{"type":"a","properties":{"constructor":{"prototype":{"admin":true}}}}]}'],
  ])('refuses a body with a %s key by saying so', async (key, body) => {
    const response = await fetch(url('/track'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answer = (await response.json()) as { message: string };
    expectCatalogueError(400, answer, 'VALIDATION_FAILED');
    expect(answer.message).toContain(`"${key}"`);
    expect(answer.message).not.toMatch(/not valid JSON/);
  });

  it('takes an empty body with a JSON Content-Type on routes without a body; still refuses one where a body is due', async () => {
    const created = await fetch(url('/v1/sources'), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'empty-body', name: 'E' }) });
    expect(created.status).toBe(201);
    const json = { ...auth, 'content-type': 'application/json' };
    expect((await fetch(url('/v1/sources/empty-body'), { method: 'DELETE', headers: json })).status).toBe(204);
    expectCatalogueError(404, await (await fetch(url('/v1/sources/empty-body'), { method: 'DELETE', headers: json })).json(), 'NOT_FOUND');
    expectCatalogueError(404, await (await fetch(url('/v1/sources/empty-body'), { method: 'DELETE', headers: { ...json, 'content-length': '0' } })).json(), 'NOT_FOUND');
    expectCatalogueError(400, await (await fetch(url('/track'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' })).json(), 'INVALID_JSON');
    expectCatalogueError(400, await (await fetch(url('/v1/sources/demo'), { method: 'PATCH', headers: json, body: '' })).json(), 'INVALID_JSON');
  });

  it('names an unknown query parameter', async () => {
    const answer = (await (await fetch(url('/v1/profiles/p/events?from=2026-01-01'), { headers: auth })).json()) as { message: string };
    expectCatalogueError(400, answer, 'VALIDATION_FAILED');
    expect(answer.message).toBe('querystring: must NOT have additional property "from"');
  });
});

describe('the server keeps serving', () => {
  it('after all of the above, a valid /track is accepted', async () => {
    await sleep(10);
    const response = await fetch(url('/track'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(trackBody()) });
    expect(response.status).toBe(200);
  });
});
