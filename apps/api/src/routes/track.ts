import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_CLIENT_TIMESTAMP_LENGTH, SluiceError, assertPropertiesWithin, eventIds, trackPayloadSchema, type RequestMetadata, type TrackPayload } from '@sluice/core';
import type { EventBus } from '@sluice/bus';
import type { Config } from '@sluice/config';
import type { Metrics } from '@sluice/observability';
import { allowOrigin, answerPreflight, corsOnEveryAnswer } from '../cors.ts';
import { acceptedMessage, deadLetteredOf, publishAcknowledged, publishDeadLetters, type EventValidator } from '../event-validation.ts';
import type { IdentityResolver } from '../identity.ts';
import type { SourceRateLimits } from '../rate-limits.ts';
import type { RetryMemory } from '../retry-memory.ts';
import { originAllowed, type SourceResolver } from '../sources.ts';

export interface TrackRouteDeps {
  readonly track: Config['track'];
  readonly bus: EventBus;
  readonly sources: SourceResolver;
  readonly validator: EventValidator;
  readonly identity: IdentityResolver;
  readonly retries: RetryMemory;
  /** Per-source events per second (the source's own limit, or TRACK_RATE_LIMIT). */
  readonly limits: SourceRateLimits;
  readonly metrics: Metrics;
  readonly isDraining: () => boolean;
}

export interface TrackResponse {
  profile: { id: string };
  session: { id: string };
  events: string[];
  /** Events dead-lettered by their type's schema (policy `dead-letter`); absent when none. */
  deadLettered?: { index: number; id: string; code: 'EVENT_INVALID'; path: string; message: string }[];
}

/**
 * `POST /track`: authenticate the source, validate, resolve the profile, choose the ids,
 * and answer 200 only once the bus has acknowledged the events as durable. A 503 leaves
 * the request's decisions in the RetryMemory, so that the client's retry cannot store the
 * events twice.
 */
export function trackRoutes(deps: TrackRouteDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    corsOnEveryAnswer(app, deps.sources);
    app.post<{ Body: TrackPayload }>('/track', { bodyLimit: deps.track.maxBodyBytes, schema: { body: trackPayloadSchema({ maxEvents: deps.track.maxEvents }) } }, async (request, reply) => {
      if (deps.isDraining()) throw new SluiceError('SHUTTING_DOWN', 'this replica is shutting down');
      const origin = request.headers.origin;
      const metadata = metadataOf(request);
      const source = await deps.sources.authorise(request.body.source.id, origin);
      if (origin !== undefined && originAllowed(source.allowedOrigins, origin)) allowOrigin(reply, origin);
      const payload = request.body;
      assertUniqueIds(payload);
      if (request.rawBody.includes('\\u0000')) assertNoNulInKeys(payload);
      assertPropertiesWithin(payload, { maxPropertiesBytes: deps.track.maxPropertiesBytes, maxExpansionBytes: deps.track.maxBodyBytes }, bodyBytesOf(request));
      // Before any identity work: a refused request costs the cache and the store nothing.
      await deps.limits.admit(source, payload.events.length);
      const checked = deps.validator.check(source, payload, await deps.sources.eventTypes());
      const identified = payload.session?.id !== undefined || payload.profile?.id !== undefined;
      const recallKey = deps.retries.mayRecall ? deps.retries.keyOf(source.id, request.rawBody, identified) : undefined;
      // The recall and the identity are asked together (on Redis: one round trip); a recalled request's identity is the one it was given before, and
      // resolving it again only refreshes the same binding. Neither call throws.
      const [recalled, identity] = await Promise.all([recallKey === undefined ? undefined : deps.retries.recall(recallKey), deps.identity.resolve(payload)]);
      const decisions = recalled ?? { ...identity, receivedAt: new Date().toISOString(), ids: eventIds(payload) };
      // The body goes on the bus as the client sent it, beside what was decided here; the
      // worker normalises it (normaliseTrack). Nothing is re-serialised on this path.
      const facts = { ...decisions, metadata };
      const message = acceptedMessage(checked, payload, request.rawBody, facts);
      try {
        // Groupable: the bus may carry it inside one message with other requests' (GroupingBus),
        // and still acknowledges it only once that message is durable.
        await Promise.all([publishAcknowledged(deps.bus, 'events', message === undefined ? [] : [{ key: decisions.profileId, payload: Buffer.from(message), groupable: { events: decisions.ids.length - checked.invalid.length } }], deps.track.publishTimeoutMs), publishDeadLetters(deps.bus, checked, payload, facts, deps.track.publishTimeoutMs)]);
      } catch (error) {
        // The publish may still land: the client's retry must reuse these ids (RetryMemory).
        const retryKey = recallKey ?? deps.retries.keyOf(source.id, request.rawBody, identified);
        if (retryKey !== undefined) await deps.retries.remember(retryKey, decisions).catch((cacheError: unknown) => request.log.warn({ err: cacheError }, 'could not remember the ids of a 503 request'));
        throw error;
      }
      if (recalled !== undefined && recallKey !== undefined) await deps.retries.forget(recallKey).catch((cacheError: unknown) => request.log.warn({ err: cacheError }, 'could not forget the ids of a retried request'));
      deps.metrics.eventsAccepted.inc(decisions.ids.length - checked.invalid.length);
      const body: TrackResponse = { profile: { id: decisions.profileId }, session: { id: decisions.sessionId }, events: decisions.ids, ...deadLetteredOf(checked, decisions.ids) };
      return body;
    });

    app.options('/track', answerPreflight(deps.sources));
  };
}

/** Throws DUPLICATE_EVENT_ID naming the first event whose id an earlier event of the request carries. */
function assertUniqueIds(payload: TrackPayload): void {
  const seen = new Set<string>();
  payload.events.forEach((event, index) => {
    if (event.id === undefined) return;
    if (seen.has(event.id)) throw new SluiceError('DUPLICATE_EVENT_ID', `event ${index} repeats the id ${event.id} of an earlier event`, { details: [{ path: `/events/${index}/id`, message: 'repeats an earlier event\'s id' }] });
    seen.add(event.id);
  });
}

/**
 * Throws VALIDATION_FAILED naming the first object key, at any depth, that holds U+0000:
 * Elasticsearch's `flattened` fields cannot index such a key, so the event could never be
 * stored. Only run when the body's text has the escape (a JSON text cannot hold a raw NUL).
 * Iterative: the depth is bounded before parsing, but no recursion is needed.
 */
function assertNoNulInKeys(payload: TrackPayload): void {
  const pending: { value: unknown; path: string }[] = [{ value: payload, path: '' }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value, path } = item;
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      if (key.includes('\u0000')) throw new SluiceError('VALIDATION_FAILED', `${childPath.replaceAll('\u0000', '\\u0000')}: a key must not contain U+0000`, { details: [{ path: childPath.replaceAll('\u0000', '\\u0000'), message: 'a key must not contain U+0000' }] });
      pending.push({ value: child, path: childPath });
    }
  }
}

/** The body's size from Content-Length (fastify enforced it while reading); unknown when chunked. */
function bodyBytesOf(request: FastifyRequest): number | undefined {
  const length = request.headers['content-length'];
  if (length === undefined) return undefined;
  const bytes = Number(length);
  return Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : undefined;
}

/** What the request itself says (`RequestMetadata`); VALIDATION_FAILED for an `X-Timestamp` longer than MAX_CLIENT_TIMESTAMP_LENGTH. */
function metadataOf(request: FastifyRequest): RequestMetadata {
  const metadata: RequestMetadata = {};
  // Behind TRUST_PROXY the address comes from X-Forwarded-For, which any client can write:
  // only an IP address is kept.
  if (isIP(request.ip) !== 0) metadata.ip = request.ip;
  if (request.headers['user-agent'] !== undefined) metadata.userAgent = request.headers['user-agent'];
  if (request.headers.origin !== undefined) metadata.origin = request.headers.origin;
  const clientTimestamp = request.headers['x-timestamp'];
  if (typeof clientTimestamp === 'string') {
    if (clientTimestamp.length > MAX_CLIENT_TIMESTAMP_LENGTH) throw new SluiceError('VALIDATION_FAILED', `the X-Timestamp header is longer than ${MAX_CLIENT_TIMESTAMP_LENGTH} characters`, { details: [{ path: 'headers/x-timestamp', message: `longer than ${MAX_CLIENT_TIMESTAMP_LENGTH} characters` }] });
    metadata.clientTimestamp = clientTimestamp;
  }
  return metadata;
}
