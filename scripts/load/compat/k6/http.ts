// The `k6/http` module for the compatibility runner: get, post, request, batch with k6's
// synchronous response (status, body, headers, json(path), timings). The rest of k6/http
// exists here only to fail by name.
import { parseDurationMs } from '../../../../load-tests/lib/scenario.js';
import { addSample, K6CompatError, run, unsupported } from '../state.ts';
import { sendSync } from '../sync-http.ts';
import type { WireResponse } from '../http-wire.ts';
import { gjson } from './gjson.ts';

/** k6's default request timeout. */
const DEFAULT_TIMEOUT_MS = 60_000;
const SUPPORTED_PARAMS = new Set(['headers', 'tags', 'timeout', 'responseType']);

type Body = string | null | undefined | Record<string, string | number | boolean>;
interface Params {
  headers?: Record<string, string>;
  tags?: Record<string, string>;
  timeout?: string | number;
  responseType?: 'text' | 'none';
}

export interface Response {
  readonly url: string;
  readonly status: number;
  readonly status_text: string;
  readonly body: string | null;
  readonly headers: Record<string, string>;
  readonly error: string;
  readonly error_code: number;
  readonly timings: { blocked: number; connecting: number; tls_handshaking: number; sending: number; waiting: number; receiving: number; duration: number };
  readonly request: { method: string; url: string; headers: Record<string, string>; body: string };
  json(path?: string): unknown;
}

function encodeBody(body: Body, headers: Record<string, string>): string | null {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string') return body;
  if (typeof body !== 'object') throw new K6CompatError(`http body of type ${typeof body} is not supported (a string, or an object sent as a form)`);
  // k6 sends an object body as an URL-encoded form.
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  return new URLSearchParams(Object.entries(body).map(([key, value]): [string, string] => [key, String(value)])).toString();
}

function timeoutMs(timeout: Params['timeout']): number {
  if (timeout === undefined) return DEFAULT_TIMEOUT_MS;
  return typeof timeout === 'number' ? timeout : parseDurationMs(timeout);
}

function record(method: string, url: string, wire: WireResponse): void {
  const failed = wire.status === 0 || wire.status >= 400;
  addSample('http_reqs', 1);
  addSample('http_req_failed', failed ? 1 : 0);
  addSample('http_req_duration', wire.durationMs);
  addSample('http_req_waiting', wire.waitingMs);
  addSample('http_req_receiving', wire.receivingMs);
  for (const metric of ['http_req_blocked', 'http_req_connecting', 'http_req_tls_handshaking', 'http_req_sending']) addSample(metric, 0);
  addSample('data_sent', wire.bytesSent);
  addSample('data_received', wire.bytesReceived);
  if (failed) run.failedRequests.push(`${method} ${url} ${wire.status === 0 ? `failed: ${wire.error}` : `answered ${wire.status}: ${wire.body.slice(0, 300)}`}`);
}

/** k6's http.request(method, url, body, params). */
export function request(method: string, url: string, body?: Body, params: Params = {}): Response {
  if (run.phase === 'init') throw new K6CompatError('http requests are not allowed in the init context');
  for (const key of Object.keys(params)) if (!SUPPORTED_PARAMS.has(key)) unsupported(`k6/http params.${key}`);
  if (params.responseType !== undefined && params.responseType !== 'text' && params.responseType !== 'none') unsupported(`k6/http params.responseType "${String(params.responseType)}"`);
  const headers = { ...(params.headers ?? {}) };
  const text = encodeBody(body, headers);
  const upper = method.toUpperCase();
  const wire = sendSync({ method: upper, url, headers, body: text, timeoutMs: timeoutMs(params.timeout) });
  record(upper, url, wire);
  const responseBody = params.responseType === 'none' ? null : wire.body;
  return {
    url,
    status: wire.status,
    status_text: wire.statusText,
    body: responseBody,
    headers: wire.headers,
    error: wire.error,
    error_code: wire.status === 0 ? 1000 : wire.status >= 400 ? 1000 + wire.status : 0,
    timings: { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: wire.waitingMs, receiving: wire.receivingMs, duration: wire.durationMs },
    request: { method: upper, url, headers, body: text ?? '' },
    json(path?: string): unknown {
      if (responseBody === null || responseBody === '') throw new K6CompatError(`json(): the answer of ${upper} ${url} has no body`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(responseBody);
      } catch (error) {
        throw new K6CompatError(`json(): the answer of ${upper} ${url} is not JSON: ${(error as Error).message}`, { cause: error });
      }
      return path === undefined ? parsed : gjson(parsed, path);
    },
  };
}

export function get(url: string, params?: Params): Response {
  return request('GET', url, null, params);
}

export function post(url: string, body?: Body, params?: Params): Response {
  return request('POST', url, body, params);
}

type BatchItem = string | [string, string, Body?, Params?] | { method: string; url: string; body?: Body; params?: Params };

/** k6's http.batch: here one request after another (k6 sends them in parallel), the answers in the same order or keys. */
export function batch(requests: BatchItem[] | Record<string, BatchItem>): Response[] | Record<string, Response> {
  const one = (item: BatchItem): Response => {
    if (typeof item === 'string') return get(item);
    if (Array.isArray(item)) return request(item[0], item[1], item[2], item[3]);
    return request(item.method, item.url, item.body, item.params);
  };
  if (Array.isArray(requests)) return requests.map(one);
  return Object.fromEntries(Object.entries(requests).map(([key, item]) => [key, one(item)]));
}

// The rest of k6/http, so that a script using it fails by name.
export const asyncRequest = (): never => unsupported('k6/http asyncRequest');
export const del = (): never => unsupported('k6/http del');
export const head = (): never => unsupported('k6/http head');
export const options = (): never => unsupported('k6/http options');
export const patch = (): never => unsupported('k6/http patch');
export const put = (): never => unsupported('k6/http put');
export const file = (): never => unsupported('k6/http file');
export const cookieJar = (): never => unsupported('k6/http cookieJar');
export const expectedStatuses = (): never => unsupported('k6/http expectedStatuses');
export const setResponseCallback = (): never => unsupported('k6/http setResponseCallback');

const implemented: Record<string, unknown> = { request, get, post, batch, asyncRequest, del, head, options, patch, put, file, cookieJar, expectedStatuses, setResponseCallback };

/** The default export (`import http from 'k6/http'`): any other property fails by name. */
export default new Proxy(implemented, {
  get(target, property) {
    if (typeof property === 'symbol') return undefined;
    if (property in target) return target[property];
    return unsupported(`k6/http ${property}`);
  },
});
