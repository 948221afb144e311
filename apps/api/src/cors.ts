import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { originAllowed, type SourceResolver } from './sources.ts';

/**
 * CORS for `/track`, all of it in one place. Browsers send credentialed requests to it:
 * `navigator.sendBeacon` always includes credentials (a JSON Blob even gets a preflight), and
 * a tracker may use `fetch(..., { credentials: 'include' })`. So, to an origin that is
 * allowed:
 * - the preflight (`OPTIONS /track`) answers 204 with the origin echoed (never `*`, which a
 *   credentialed request may not use), `Access-Control-Allow-Credentials: true`, the methods,
 *   the headers the browser asked for (Tracardi's tracker asks for `content-type,
 *   x-timestamp`) and a max age;
 * - every answer — 200 and every error (400, 401, 413, 503 …) — carries the origin,
 *   `Access-Control-Allow-Credentials: true` and `Vary: Origin`, and exposes `Retry-After`,
 *   so that a tracker can read why it was refused instead of seeing a network error.
 * Which origins are allowed: for a request that names a source Sluice knows, that source's
 * `allowedOrigins` (enabled or not; `*` allows any); a preflight (no body) and a request
 * whose source is unknown or unreadable (a broken or oversized body), any enabled source's.
 * An origin the named source does not allow never gets a CORS header, so its page cannot read
 * the answer.
 */

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/** The methods `/track` answers across origins. */
const ALLOWED_METHODS = 'POST, OPTIONS';

/** Headers a cross-origin page may read on an answer, beside the CORS-safelisted ones. */
const EXPOSED_HEADERS = 'Retry-After';

/** Marks an answer readable by `origin` (which the caller checked is allowed). */
export function allowOrigin(reply: FastifyReply, origin: string): void {
  void reply.header('access-control-allow-origin', origin);
  void reply.header('access-control-allow-credentials', 'true');
  void reply.header('access-control-expose-headers', EXPOSED_HEADERS);
  void reply.header('vary', 'Origin');
}

/** The `OPTIONS /track` handler: answers a preflight from an origin that some enabled source allows; 204 without CORS headers otherwise. */
export function answerPreflight(sources: SourceResolver) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const origin = request.headers.origin;
    if (origin !== undefined && (await sources.anySourceAllows(origin))) {
      allowOrigin(reply, origin);
      // The answer depends on the headers asked for too (they are echoed).
      void reply.header('vary', 'Origin, Access-Control-Request-Headers');
      void reply.header('access-control-allow-methods', ALLOWED_METHODS);
      void reply.header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? 'content-type');
      void reply.header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
    }
    return reply.code(204).send();
  };
}

/**
 * Adds the CORS headers of an allowed origin to every answer of the routes in `scope` that
 * does not have them yet: errors thrown before the route authorised the source, and errors
 * of the request itself (an unreadable or oversized body). An `onSend` hook, so it sees
 * answers from the error handler too; a request without `Origin`, or one already answered
 * with the headers (every 200), costs one check.
 */
export function corsOnEveryAnswer(scope: FastifyInstance, sources: SourceResolver): void {
  scope.addHook('onSend', (request, reply, payload, done) => {
    const origin = request.headers.origin;
    if (origin === undefined || reply.hasHeader('access-control-allow-origin')) {
      done(null, payload);
      return;
    }
    originAllowedFor(request, origin, sources).then(
      (allowed) => {
        if (allowed) allowOrigin(reply, origin);
        done(null, payload);
      },
      // The config store failed: the answer goes out without CORS headers rather than not at all.
      (error: unknown) => {
        request.log.warn({ err: error }, 'could not decide CORS for an answer');
        done(null, payload);
      },
    );
  });
}

/** Is `origin` allowed for this request: by the source its body names, where Sluice knows it; else by any enabled source. */
async function originAllowedFor(request: FastifyRequest, origin: string, sources: SourceResolver): Promise<boolean> {
  const sourceId = sourceIdOf(request.body);
  const source = sourceId === undefined ? undefined : await sources.get(sourceId);
  if (source !== undefined) return originAllowed(source.allowedOrigins, origin);
  return sources.anySourceAllows(origin);
}

/** `source.id` of a parsed body, when it is a string; the body may be anything a client sent (or nothing). */
function sourceIdOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const source = (body as { source?: unknown }).source;
  if (typeof source !== 'object' || source === null) return undefined;
  const id = (source as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}
