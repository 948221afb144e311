import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, SluiceError, isSluiceError, type ErrorCode, type ErrorDetail, type HttpErrorBody } from '@sluice/core';
import type { Logger, Metrics } from '@sluice/observability';

/** Fastify's own errors that map onto catalogue codes. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'MALFORMED_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

/** Other client errors (4xx without a code above), by status. */
const CLIENT_STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'MALFORMED_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

/** Node's HTTP parser errors (`clientError`, before any route runs), by error code. */
const CONNECTION_CODES: Readonly<Record<string, ErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'BODY_TOO_LARGE',
};

const CONNECTION_MESSAGES: Partial<Record<ErrorCode, string>> = {
  HEADERS_TOO_LARGE: 'the request line and headers are larger than 16 KiB',
  REQUEST_TIMEOUT: 'the request did not arrive in time (HTTP_HEADERS_TIMEOUT for the headers, HTTP_REQUEST_TIMEOUT for all of it)',
  BODY_TOO_LARGE: 'the chunk extensions are too large',
};

/** What the API needs to answer errors. */
export interface ErrorHandlingOptions {
  readonly metrics: Metrics;
  /** TRACK_MAX_BODY_SIZE, in bytes: bounds how much of an oversized body is read and dropped before the 413. */
  readonly maxBodyBytes: number;
}

/**
 * A client that writes its whole body before reading (a raw socket, many HTTP/1.1 libraries)
 * sees a broken pipe if the server answers 413 and closes while the body is still coming.
 * So the rest of an oversized body is read and dropped first, up to this many bytes: at
 * least 16 MiB, and 4 × TRACK_MAX_BODY_SIZE (HTTP_REQUEST_TIMEOUT bounds the time). Beyond
 * that the 413 is sent and the connection closed.
 */
export function drainLimitBytes(maxBodyBytes: number): number {
  return Math.max(16 * 1024 * 1024, 4 * maxBodyBytes);
}

/** Sends a catalogue error as `{ statusCode, code, error, message, details? }`. */
export function sendError(reply: FastifyReply, error: SluiceError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
  else if (error.code === 'BUS_UNAVAILABLE' || error.code === 'SHUTTING_DOWN' || error.code === 'STORE_UNAVAILABLE' || error.code === 'CACHE_UNAVAILABLE') void reply.header('retry-after', '1');
  return reply.code(error.statusCode).send(errorBody(error));
}

function errorBody(error: SluiceError): HttpErrorBody {
  const body: HttpErrorBody = { statusCode: error.statusCode, code: error.code, error: httpReason(error.statusCode), message: error.message };
  if (error.details.length > 0) body.details = error.details;
  return body;
}

/**
 * Every error leaves the API in the catalogue's shape: route errors (the error handler),
 * unknown routes (404) and methods (405), router errors (bad URL, 414) and HTTP-level errors
 * Node answers before fastify sees a request (431, 400, 408: `clientErrorHandler`, passed
 * to `fastify()`). Unknown errors are logged and answer 500.
 *
 * Call it before any route is added; call the function it returns after the last one (it
 * adds the 405 routes).
 */
export function registerErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions): () => void {
  const drainLimit = drainLimitBytes(options.maxBodyBytes);
  app.setErrorHandler(async (raw: FastifyError, request, reply) => {
    const error = toSluiceError(raw);
    options.metrics.eventsRejected.inc({ code: error.code });
    if (error.code === 'INTERNAL') request.log.error({ err: raw }, 'unexpected error');
    else request.log.info({ code: error.code, message: error.message }, 'request rejected');
    if (error.code === 'BODY_TOO_LARGE') await dropBody(request.raw, drainLimit);
    return sendError(reply, error);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new SluiceError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)));
  return answerOtherMethods(app);
}

/**
 * An HTTP/1.1 request must name its Host (RFC 9112 §3.2). Node checks that itself unless
 * told not to (`requireHostHeader: false`, set in app.ts) but answers an empty 400; this
 * answers MALFORMED_REQUEST in the catalogue's shape and closes the connection, as for other
 * malformed requests. HTTP/1.0 has no Host requirement.
 */
export function missingHost(request: FastifyRequest, reply: FastifyReply): SluiceError | undefined {
  const { httpVersionMajor, httpVersionMinor, headers } = request.raw;
  if (httpVersionMajor === 1 && httpVersionMinor >= 1 && headers.host === undefined) {
    void reply.header('connection', 'close');
    return new SluiceError('MALFORMED_REQUEST', 'an HTTP/1.1 request needs a Host header');
  }
  return undefined;
}

/** fastify's `frameworkErrors`: router errors (a malformed URL, a path segment over maxParamLength). */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, toSluiceError(error));
}

/**
 * fastify's `clientErrorHandler`: errors Node's HTTP parser raises on a connection before a
 * request exists (headers too large, malformed HTTP, a bad Content-Length, timeouts). Answers
 * in the catalogue's shape where the socket can still take an answer, then closes it.
 */
export function connectionErrorHandler(logger: Logger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const code = CONNECTION_CODES[error.code ?? ''] ?? 'MALFORMED_REQUEST';
    const message = CONNECTION_MESSAGES[code] ?? `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`;
    logger.debug({ code, cause: error.code }, 'connection error');
    // Node's rule: answer only while no response has started on this socket.
    const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && (pending === undefined || pending === null || !pending.headersSent)) {
      const body = JSON.stringify(errorBody(new SluiceError(code, message)));
      const status = ERROR_CATALOGUE[code].statusCode;
      socket.write(`HTTP/1.1 ${String(status)} ${httpReason(status)}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}

/** Reads and drops what is left of a request body, up to `limitBytes`; resolves when it has ended or the limit is passed. */
function dropBody(raw: IncomingMessage, limitBytes: number): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      raw.off('data', onData).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limitBytes) done();
    };
    raw.on('data', onData).on('end', done).on('error', done).on('close', done);
    raw.resume();
  });
}

const ROUTABLE_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const;

/**
 * 405 METHOD_NOT_ALLOWED (with `Allow`) for a known path asked with another method, instead
 * of fastify's 404. Routes are collected as they are added; the returned function adds the
 * 405 routes once every plugin registered before its call has loaded.
 */
function answerOtherMethods(app: FastifyInstance): () => void {
  const methodsByUrl = new Map<string, Set<string>>();
  let adding = false;
  app.addHook('onRoute', (route) => {
    if (adding) return;
    const methods = methodsByUrl.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    if (methods.has('GET')) methods.add('HEAD');
    methodsByUrl.set(route.url, methods);
  });
  return () => void app.register(async (scope) => {
    adding = true;
    for (const [url, methods] of methodsByUrl) {
      const allow = [...methods].sort().join(', ');
      const others = ROUTABLE_METHODS.filter((method) => !methods.has(method));
      if (others.length === 0) continue;
      scope.route({
        method: others,
        url,
        handler: (request, reply) => sendError(reply.header('allow', allow), new SluiceError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url}; allowed: ${allow}`)),
      });
    }
    adding = false;
  });
}

function toSluiceError(error: FastifyError): SluiceError {
  if (isSluiceError(error)) return error;
  if (error.validation !== undefined) return validationError(error);
  const mapped = (error.code === undefined ? undefined : FASTIFY_CODES[error.code]) ?? (error.statusCode === undefined ? undefined : CLIENT_STATUS_CODES[error.statusCode]);
  if (mapped !== undefined) return new SluiceError(mapped, error.message, { cause: error });
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return new SluiceError('VALIDATION_FAILED', error.message, { cause: error });
  return new SluiceError('INTERNAL', 'internal error', { cause: error });
}

/**
 * VALIDATION_FAILED (or TOO_MANY_EVENTS) from the schema's findings. The message names the
 * first: its JSON path, in a body, or the request part it is in (`querystring`, `params`),
 * and the property it is about where there is one.
 */
function validationError(error: FastifyError): SluiceError {
  const issues = error.validation ?? [];
  const tooMany = issues.find((issue) => issue.keyword === 'maxItems' && issue.instancePath === '/events');
  if (tooMany !== undefined) return new SluiceError('TOO_MANY_EVENTS', `too many events in one request (the limit is ${String(tooMany.params['limit'])})`);
  const details: ErrorDetail[] = issues.map((issue) => ({ path: issue.instancePath === '' ? '/' : issue.instancePath, message: describeIssue(issue) }));
  const first = details[0];
  if (first === undefined) return new SluiceError('VALIDATION_FAILED', 'invalid request', { details });
  const part = error.validationContext === undefined || error.validationContext === 'body' ? '' : error.validationContext;
  const where = part === '' ? first.path : first.path === '/' ? part : `${part} ${first.path}`;
  return new SluiceError('VALIDATION_FAILED', `${where}: ${first.message}`, { details });
}

function describeIssue(issue: { keyword: string; message?: string | undefined; params: Record<string, unknown> }): string {
  if (issue.keyword === 'required') return `must have property "${String(issue.params['missingProperty'])}"`;
  if (issue.keyword === 'additionalProperties') return `must NOT have additional property "${String(issue.params['additionalProperty'])}"`;
  return issue.message ?? issue.keyword;
}

function httpReason(statusCode: number): string {
  return STATUS_CODES[statusCode] ?? 'Error';
}

export { ERROR_CATALOGUE };
