import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SluiceError, type JsonObject, type RequestMetadata } from '@sluice/core';
import type { Config } from '@sluice/config';
import { allowOrigin, answerPreflight, corsOnEveryAnswer } from '../cors.ts';
import { originAllowed, type SourceResolver } from '../sources.ts';
import { decodeBody, parseAnyTypeAsJson } from './body.ts';
import { ingestSegment, type IngestDeps, type SegmentOutcome } from './ingest.ts';
import type { BatchDefaults, SegmentType } from './mapping.ts';
import { PIXEL_GIF, pixelMessage } from './pixel.ts';
import { writeKeyOf } from './write-key.ts';

export interface SegmentRouteDeps extends IngestDeps {
  readonly track: Pick<Config['track'], 'maxDepth' | 'maxKeys'>;
  /** SEGMENT_MAX_BATCH_SIZE, bytes. */
  readonly maxBatchBytes: number;
  readonly sources: SourceResolver;
  readonly isDraining: () => boolean;
}

/** The answer of a Segment-compatible POST: Segment's `success`, and what Sluice did with each event. */
export interface SegmentResponse {
  success: true;
  /** Events on the bus, to be stored. */
  accepted: number;
  /** Events dead-lettered instead (by index in the request), with their codes and reasons; absent when none. */
  deadLettered?: SegmentOutcome['deadLettered'];
}

/** Routes that take a batch (`{ batch: [...] }`): Segment's, RudderStack's bulk alias, analytics.js's batching path, and the beacon. */
const BATCH_ROUTES = ['/v1/batch', '/v1/import', '/v1/b', '/beacon/v1/batch'] as const;

/** Single-call routes: Segment's names and the one-letter paths analytics.js posts to (`/v1/t` …). */
const CALL_ROUTES: readonly (readonly [string, SegmentType])[] = [
  ['track', 'track'], ['page', 'page'], ['screen', 'screen'], ['identify', 'identify'], ['group', 'group'], ['alias', 'alias'],
  ['t', 'track'], ['p', 'page'], ['s', 'screen'], ['i', 'identify'], ['g', 'group'], ['a', 'alias'],
];

/** Tracking pixels (`<img src=…>`): GET with the message in the query, answered with a 1×1 GIF. */
const PIXEL_ROUTES: readonly (readonly [string, SegmentType])[] = [['/pixel/v1/track', 'track'], ['/pixel/v1/page', 'page']];

/**
 * The Segment-compatible HTTP API, in its own scope (its body parser and hooks apply to its
 * routes only): authenticate the write key (the source id), read the body (any
 * Content-Type, gzip or deflate, within SEGMENT_MAX_BATCH_SIZE or SEGMENT_MAX_EVENT_SIZE),
 * and answer 200 once every event is on the bus, stored or dead-lettered (`ingestSegment`).
 */
export function segmentRoutes(deps: SegmentRouteDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    parseAnyTypeAsJson(app, deps.track);
    app.addHook('preParsing', decodeBody);
    corsOnEveryAnswer(app, deps.sources);
    const preflight = answerPreflight(deps.sources);

    for (const url of BATCH_ROUTES) {
      app.post(url, { bodyLimit: deps.maxBatchBytes, config: { segmentBodyLimit: deps.maxBatchBytes } }, async (request, reply) => {
        const { messages, defaults } = batchOf(request.body);
        return answer(await take(deps, request, reply, { messages, defaults, route: url }));
      });
      app.options(url, preflight);
    }
    for (const [name, type] of CALL_ROUTES) {
      const url = `/v1/${name}`;
      app.post(url, { bodyLimit: deps.maxEventBytes, config: { segmentBodyLimit: deps.maxEventBytes } }, async (request, reply) => answer(await take(deps, request, reply, { messages: [request.body], defaults: {}, routeType: type, route: url })));
      app.options(url, preflight);
    }
    for (const [url, type] of PIXEL_ROUTES) {
      app.get(url, async (request, reply) => {
        await take(deps, request, reply, { messages: [pixelMessage(request.query as Record<string, unknown>)], defaults: {}, routeType: type, route: url });
        return reply.header('content-type', 'image/gif').header('cache-control', 'no-store, max-age=0').send(PIXEL_GIF);
      });
    }
  };
}

/** Authorises the write key and takes the events; the caller answers. */
async function take(deps: SegmentRouteDeps & IngestDeps, request: FastifyRequest, reply: FastifyReply, what: { messages: readonly unknown[]; defaults: BatchDefaults; routeType?: SegmentType; route: string }): Promise<SegmentOutcome> {
  if (deps.isDraining()) throw new SluiceError('SHUTTING_DOWN', 'this replica is shutting down');
  const origin = request.headers.origin;
  const source = await deps.sources.authorise(writeKeyOf(request, request.body), origin);
  if (origin !== undefined && originAllowed(source.allowedOrigins, origin)) allowOrigin(reply, origin);
  return ingestSegment(deps, { source, eventTypes: await deps.sources.eventTypes(), ...what, metadata: metadataOf(request) });
}

function answer(outcome: SegmentOutcome): SegmentResponse {
  const body: SegmentResponse = { success: true, accepted: outcome.accepted };
  if (outcome.deadLettered.length > 0) body.deadLettered = outcome.deadLettered;
  return body;
}

/** The messages of a batch body and what applies to all of them; VALIDATION_FAILED when the body is not `{ batch: [...] }`. */
function batchOf(body: unknown): { messages: readonly unknown[]; defaults: BatchDefaults } {
  const batch = typeof body === 'object' && body !== null ? (body as { batch?: unknown }).batch : undefined;
  if (!Array.isArray(batch)) throw new SluiceError('VALIDATION_FAILED', '/batch: a batch body is {"batch": [ …events ]}', { details: [{ path: '/batch', message: 'must be an array' }] });
  const { context, integrations, sentAt } = body as { context?: unknown; integrations?: unknown; sentAt?: unknown };
  const defaults: { context?: JsonObject; integrations?: JsonObject; sentAt?: unknown } = {};
  if (isObject(context)) defaults.context = context;
  if (isObject(integrations)) defaults.integrations = integrations;
  if (sentAt !== undefined) defaults.sentAt = sentAt;
  return { messages: batch, defaults };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What the request itself says (the sender's address, user agent and origin). */
function metadataOf(request: FastifyRequest): RequestMetadata {
  const metadata: RequestMetadata = {};
  if (isIP(request.ip) !== 0) metadata.ip = request.ip;
  if (request.headers['user-agent'] !== undefined) metadata.userAgent = request.headers['user-agent'];
  if (request.headers.origin !== undefined) metadata.origin = request.headers.origin;
  return metadata;
}
