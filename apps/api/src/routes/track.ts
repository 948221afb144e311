import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SluiceError, assertPropertiesWithin, encodeReceived, eventIds, trackPayloadSchema, type TrackPayload } from '@sluice/core';
import type { EventBus } from '@sluice/bus';
import type { Config } from '@sluice/config';
import type { Metrics } from '@sluice/observability';
import type { IdentityResolver } from '../identity.ts';
import { originAllowed, type SourceResolver } from '../sources.ts';

export interface TrackRouteDeps {
  readonly track: Config['track'];
  readonly bus: EventBus;
  readonly sources: SourceResolver;
  readonly identity: IdentityResolver;
  readonly metrics: Metrics;
  readonly isDraining: () => boolean;
}

export interface TrackResponse {
  profile: { id: string };
  session: { id: string };
  events: string[];
}

const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * `POST /track`: authenticate the source, validate, resolve the profile, normalise, and
 * answer 200 only once the bus has acknowledged the events as durable.
 */
export function trackRoutes(deps: TrackRouteDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: TrackPayload }>('/track', { bodyLimit: deps.track.maxBodyBytes, schema: { body: trackPayloadSchema({ maxEvents: deps.track.maxEvents }) } }, async (request, reply) => {
      if (deps.isDraining()) throw new SluiceError('SHUTTING_DOWN', 'this replica is shutting down');
      const origin = request.headers.origin;
      const source = await deps.sources.authorise(request.body.source.id, origin);
      if (origin !== undefined && originAllowed(source.allowedOrigins, origin)) allowOrigin(reply, origin);
      const payload = request.body;
      assertPropertiesWithin(payload, deps.track.maxPropertiesBytes, bodyBytesOf(request));
      const identity = await deps.identity.resolve(payload);
      const ids = eventIds(payload);
      // The body goes on the bus as the client sent it, beside what was decided here; the
      // worker normalises it (normaliseTrack). Nothing is re-serialised on this path.
      const message = encodeReceived({ ...identity, receivedAt: new Date().toISOString(), metadata: metadataOf(request), ids }, request.rawBody);
      await publishWithin(deps.bus, identity.profileId, Buffer.from(message), deps.track.publishTimeoutMs);
      deps.metrics.eventsAccepted.inc(ids.length);
      const body: TrackResponse = { profile: { id: identity.profileId }, session: { id: identity.sessionId }, events: ids };
      return body;
    });

    app.options('/track', async (request, reply) => {
      const origin = request.headers.origin;
      if (origin !== undefined && (await deps.sources.anySourceAllows(origin))) {
        allowOrigin(reply, origin);
        void reply.header('access-control-allow-methods', 'POST, OPTIONS');
        void reply.header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? 'content-type');
        void reply.header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
      }
      return reply.code(204).send();
    });
  };
}

function allowOrigin(reply: FastifyReply, origin: string): void {
  void reply.header('access-control-allow-origin', origin);
  void reply.header('vary', 'Origin');
}

/** The body's size from Content-Length (fastify enforced it while reading); unknown when chunked. */
function bodyBytesOf(request: FastifyRequest): number | undefined {
  const length = request.headers['content-length'];
  if (length === undefined) return undefined;
  const bytes = Number(length);
  return Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : undefined;
}

function metadataOf(request: FastifyRequest): { ip: string; userAgent?: string; origin?: string } {
  const metadata: { ip: string; userAgent?: string; origin?: string } = { ip: request.ip };
  if (request.headers['user-agent'] !== undefined) metadata.userAgent = request.headers['user-agent'];
  if (request.headers.origin !== undefined) metadata.origin = request.headers.origin;
  return metadata;
}

/** Publishes and waits for the bus acknowledgement, at most `timeoutMs`; else BUS_UNAVAILABLE. */
async function publishWithin(bus: EventBus, key: string, payload: Buffer, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SluiceError('BUS_UNAVAILABLE', `the bus did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([bus.publish('events', [{ key, payload }]), timeout]);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('BUS_UNAVAILABLE', 'the bus could not accept the events', { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
