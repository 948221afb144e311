import { Transform, type Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SluiceError, measureJson, type ErrorCode } from '@sluice/core';
import type { JsonLimits } from '../validation.ts';

/**
 * Bodies of the Segment-compatible routes: JSON whatever the Content-Type says (SDKs send
 * `application/json`, `text/plain` — analytics.js, to skip the preflight — and rudder-sdk-node
 * `application/x-www-form-urlencoded` over a gzipped JSON body), optionally gzip- or
 * deflate-encoded, within a limit on the bytes once inflated.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the Segment-compatible routes: their bodies may be gzip/deflate encoded, within this many bytes once inflated. */
    segmentBodyLimit?: number;
  }
}

/** True for a route that inflates its bodies itself (the root hook refuses Content-Encoding elsewhere). */
export function inflatesBodies(request: FastifyRequest): boolean {
  return request.routeOptions.config.segmentBodyLimit !== undefined;
}

const TOO_LARGE: ErrorCode = 'SEGMENT_BATCH_TOO_LARGE';

/**
 * The `preParsing` hook of the Segment-compatible routes: refuses a body whose declared
 * length is over the route's limit before reading it, and hands the parser an inflating
 * stream for `Content-Encoding: gzip` / `deflate` that fails with SEGMENT_BATCH_TOO_LARGE as
 * soon as the inflated bytes pass the limit — so a compression bomb stops at the limit,
 * never using more memory than that. Any other encoding answers 415.
 */
export async function decodeBody(request: FastifyRequest, _reply: unknown, payload: Readable): Promise<Readable> {
  const limit = request.routeOptions.config.segmentBodyLimit;
  if (limit === undefined) return payload;
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') {
    const declaredLength = request.headers['content-length'];
    if (declaredLength === undefined) return decoded(payload, undefined, limit); // chunked: counted as it comes
    if (Number(declaredLength) > limit) throw tooLarge(limit, `${declaredLength} bytes`);
    return payload;
  }
  if (encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate') {
    throw new SluiceError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding.slice(0, 32)} is not supported; send gzip, deflate or an uncompressed body`);
  }
  return decoded(payload, encoding === 'deflate' ? 'deflate' : 'gzip', limit);
}

function tooLarge(limit: number, size: string): SluiceError {
  return new SluiceError(TOO_LARGE, `the body is ${size} once inflated; the limit is ${String(limit)} bytes`);
}

/**
 * `raw` inflated (`encoding` undefined: as it is), failing (SEGMENT_BATCH_TOO_LARGE) past
 * `limit` bytes and (BODY_ENCODING_INVALID) on data that does not inflate. Exposes
 * `receivedEncodedLength`, the bytes read from the request so far, which fastify checks
 * against Content-Length. On failure the request is unpiped, not destroyed: Node discards the
 * rest of it once the error is answered.
 */
function decoded(raw: Readable, encoding: 'gzip' | 'deflate' | undefined, limit: number): Readable {
  const inflater: Transform = encoding === undefined ? new Transform({ transform: (chunk: Buffer, _encoding, callback) => callback(null, chunk) }) : encoding === 'gzip' ? createGunzip() : createInflate();
  let inflated = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inflated += chunk.length;
      if (inflated > limit) callback(tooLarge(limit, `more than ${String(limit)} bytes`));
      else callback(null, chunk);
    },
  }) as Transform & { receivedEncodedLength: number };
  capped.receivedEncodedLength = 0;
  const stop = () => {
    raw.unpipe(inflater);
    inflater.destroy();
  };
  raw.on('data', (chunk: Buffer) => {
    capped.receivedEncodedLength += chunk.length;
  });
  inflater.on('error', (error) => capped.destroy(new SluiceError('BODY_ENCODING_INVALID', `the body does not inflate as ${encoding ?? 'sent'}: ${error.message}`, { cause: error })));
  capped.on('error', stop);
  raw.pipe(inflater).pipe(capped);
  return capped;
}

const BYTE_ORDER_MARK = 0xfeff;

/**
 * Replaces the scope's body parsers with one that reads any Content-Type (or none) as JSON:
 * measured first against TRACK_MAX_DEPTH and TRACK_MAX_KEYS (one loop over the text, before
 * anything recursive sees it), then parsed by fastify's own parser (prototype-poisoning keys
 * refused). Call inside the Segment routes' plugin: the rest of the API keeps its parsers.
 */
export function parseAnyTypeAsJson(scope: FastifyInstance, limits: JsonLimits): void {
  const parse = scope.getDefaultJsonParser('error', 'error');
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = (body as string).charCodeAt(0) === BYTE_ORDER_MARK ? (body as string).slice(1) : (body as string);
    const { depth, members } = measureJson(text);
    if (depth > limits.maxDepth) return done(new SluiceError('NESTING_TOO_DEEP', `the body nests ${String(depth)} levels deep; the limit is ${String(limits.maxDepth)}`), undefined);
    if (members > limits.maxKeys) return done(new SluiceError('TOO_MANY_KEYS', `the body holds ${String(members)} keys; the limit is ${String(limits.maxKeys)}`), undefined);
    void parse(request, text, done);
  });
}
