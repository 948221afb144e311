import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { EventBus } from '@sluice/bus';
import type { ProfileCache } from '@sluice/cache';
import type { Config } from '@sluice/config';
import type { ConfigStore } from '@sluice/config-store';
import type { HealthCheck, Logger, Metrics } from '@sluice/observability';
import type { EventReader, ProfileMerges } from '@sluice/store';
import { requireAdmin } from './admin-auth.ts';
import { registerJsonParsers, unsupportedEncoding, validatorCompiler } from './validation.ts';
import { connectionErrorHandler, frameworkErrorHandler, missingHost, registerErrorHandling } from './errors.ts';
import { IdentityResolver } from './identity.ts';
import { KnownMerges } from './known-merges.ts';
import { ProfileDirectory } from './profile-directory.ts';
import { RetryMemory } from './retry-memory.ts';
import { healthRoutes } from './routes/health.ts';
import { readRoutes } from './routes/read.ts';
import { sourceRoutes } from './routes/sources.ts';
import { trackRoutes } from './routes/track.ts';
import { EventValidator } from './event-validation.ts';
import { SourceRateLimits } from './rate-limits.ts';
import { eventTypeRoutes } from './routes/event-types.ts';
import { SourceResolver, servingChecks } from './sources.ts';
import { inflatesBodies } from './segment/body.ts';
import { SegmentIdentity } from './segment/identity.ts';
import { mergesRefusedCounter } from './segment/metrics.ts';
import { segmentRoutes } from './segment/routes.ts';

export interface ApiDeps {
  readonly config: Pick<Config, 'http' | 'track' | 'cache' | 'segment' | 'configStore'>;
  readonly bus: EventBus;
  /** The read routes read; identity and the merge route resolve and record profile merges. */
  readonly store: EventReader & ProfileMerges;
  readonly cache: ProfileCache;
  readonly configStore: ConfigStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Everything /readyz reports on, by name. */
  readonly checks: Readonly<Record<string, HealthCheck>>;
}

export interface Api {
  readonly app: FastifyInstance;
  /** Makes /readyz fail and /track answer 503 SHUTTING_DOWN, before the server closes. */
  startDraining(): void;
}

/**
 * Longest path parameter, in characters: an id of 128 characters (the payload schema's
 * limit) with every character percent-encoded takes 3 × 128. Longer answers 414 URI_TOO_LONG.
 */
const MAX_PARAM_LENGTH = 3 * 128;

/**
 * Longest wait for the store when the profile cache does not know whether a profile was
 * merged, ms; slower counts as "not merged" (uncached), so /track never waits long on it.
 */
const PROFILE_LOOKUP_TIMEOUT_MS = 500;

/**
 * The replica's filter of merged profiles (see KnownMerges): polled every 2 s, each poll
 * reading again the last minute (plus the store's listing delay) for clocks apart; read in
 * full every 10 minutes; trusted while its last read is at most 30 s old; pages of 5,000.
 */
const KNOWN_MERGES = { pollMs: 2000, overlapMs: 60_000, fullReadMs: 600_000, staleAfterMs: 30_000, pageSize: 5000 } as const;

/** How often Node checks the header and request deadlines of open connections, in ms. */
const CONNECTION_CHECK_MS = 500;

/** Builds the HTTP API without listening; `main.ts` listens, tests use `inject()`. */
export function buildApi(deps: ApiDeps): Api {
  let draining = false;
  const isDraining = () => draining;
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const http = deps.config.http;
  const app = fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: http.trustProxy,
    bodyLimit: deps.config.track.maxBodyBytes,
    return503OnClosing: true,
    // Slow clients are cut off (408, connection closed): headers, then the whole request.
    // Node checks the deadlines every connectionsCheckingInterval, so a client is cut off
    // at most CONNECTION_CHECK_MS after its deadline.
    // Node's own Host check answers an empty 400; registerErrorHandling's answers in the catalogue's shape.
    http: { headersTimeout: http.headersTimeoutMs, connectionsCheckingInterval: CONNECTION_CHECK_MS, requireHostHeader: false },
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: connectionErrorHandler(deps.logger),
  });
  app.setValidatorCompiler(validatorCompiler());
  registerJsonParsers(app, deps.config.track);
  // One synchronous hook for every request-level check (each hook costs every request).
  app.addHook('onRequest', (request, reply, done) => {
    acceptEmptyBodyOnBodilessRoutes(request);
    // The Segment-compatible routes inflate gzip and deflate bodies themselves, within their limit.
    done(missingHost(request, reply) ?? (inflatesBodies(request) ? undefined : unsupportedEncoding(request)));
  });
  const addMethodNotAllowedRoutes = registerErrorHandling(app, { metrics: deps.metrics, maxBodyBytes: deps.config.track.maxBodyBytes });
  const countRequest = requestCounter(deps.metrics);
  app.addHook('onResponse', (request, reply, done) => {
    countRequest(request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  // Tracking reads configuration from memory (refreshed in the background, stale through an
  // outage); the first configuration is loaded before the app is ready.
  const sources = new SourceResolver(deps.configStore, { ttlMs: deps.config.http.sourceCacheTtlMs, startTimeoutMs: deps.config.configStore.startTimeoutMs, logger: deps.logger, metrics: deps.metrics });
  app.addHook('onReady', () => sources.start());
  const knownMerges = new KnownMerges(deps.store, { ...KNOWN_MERGES, cacheTtlMs: deps.config.cache.profileTtlSeconds * 1000, logger: deps.logger });
  deps.metrics.readMergesAgeWith(() => knownMerges.ageSeconds());
  app.addHook('onReady', async () => knownMerges.start());
  const directory = new ProfileDirectory(deps.cache, deps.store, { ttlSeconds: deps.config.cache.profileTtlSeconds, lookupTimeoutMs: PROFILE_LOOKUP_TIMEOUT_MS, logger: deps.logger, onLookup: (seconds, outcome) => deps.metrics.profileLookup.observe({ outcome }, seconds), knownMerges });
  const identity = new IdentityResolver(deps.cache, directory, { sessionTtlSeconds: deps.config.cache.sessionTtlSeconds, onDegraded: () => deps.metrics.identityDegraded.inc(), logger: deps.logger });
  const retries = new RetryMemory(deps.cache, deps.config.track.retryMemorySeconds);
  app.addHook('onClose', async () => {
    sources.stop();
    retries.close();
    await knownMerges.close();
  });
  const limits = new SourceRateLimits(deps.cache.rateLimiter({ maxEventsPerRequest: deps.config.track.maxEvents, onFallback: () => deps.metrics.rateLimitFallbacks.inc() }), deps.metrics, deps.config.track.rateLimitPerSecond);
  // One validator for every ingestion route: each event type's schema compiled once per version.
  const validator = new EventValidator();
  void app.register(trackRoutes({ track: deps.config.track, bus: deps.bus, sources, validator, identity, retries, limits, metrics: deps.metrics, isDraining }));
  const segmentIdentity = new SegmentIdentity(directory, { onDegraded: () => deps.metrics.identityDegraded.inc(), onMergeRefused: mergesRefusedCounter(deps.metrics), logger: deps.logger });
  const segment = deps.config.segment;
  void app.register(segmentRoutes({ bus: deps.bus, identity: segmentIdentity, limits, metrics: deps.metrics, publishTimeoutMs: deps.config.track.publishTimeoutMs, maxEventBytes: segment.maxEventBytes, maxBatchBytes: segment.maxBatchBytes, track: deps.config.track, sources, validator, isDraining }));
  void app.register(healthRoutes({ checks: servingChecks(deps.checks, sources), metrics: deps.metrics, isDraining, adminToken: http.adminToken }));
  void app.register(async (admin) => {
    admin.addHook('preHandler', requireAdmin(deps.config.http.adminToken));
    await admin.register(readRoutes({ store: deps.store, directory }));
    const onChange = () => sources.reload();
    await admin.register(sourceRoutes({ configStore: deps.configStore, onChange }));
    await admin.register(eventTypeRoutes({ configStore: deps.configStore, onChange }));
  });
  addMethodNotAllowedRoutes();
  return {
    app,
    startDraining: () => {
      draining = true;
    },
  };
}

/** Methods whose routes here take no body. */
const BODILESS_METHODS = new Set(['DELETE', 'OPTIONS']);

/**
 * A DELETE or OPTIONS with `Content-Type: application/json` and an empty body (no
 * Content-Length nor Transfer-Encoding, or Content-Length 0: some HTTP clients send the type
 * on every request) is taken as having no body, instead of failing
 * as empty JSON: these routes read none. A non-empty body still goes to the parser.
 */
function acceptEmptyBodyOnBodilessRoutes(request: FastifyRequest): void {
  const { headers } = request.raw;
  const empty = (headers['content-length'] === undefined || headers['content-length'] === '0') && headers['transfer-encoding'] === undefined;
  if (BODILESS_METHODS.has(request.method) && empty) delete headers['content-type'];
}

/**
 * Counts a request and observes its duration through labelled children looked up once per
 * route and status (prom-client otherwise hashes the label set on every call).
 */
function requestCounter(metrics: Metrics): (route: string, status: number, seconds: number) => void {
  const children = new Map<string, { readonly requests: { inc(): void }; readonly duration: { observe(value: number): void } }>();
  return (route, status, seconds) => {
    const key = `${String(status)} ${route}`;
    let child = children.get(key);
    if (child === undefined) {
      child = { requests: metrics.httpRequests.labels({ route, status }), duration: metrics.httpDuration.labels({ route }) };
      // Routes are the app's own (or 'unmatched'), statuses a few: the map stays small.
      children.set(key, child);
    }
    child.requests.inc();
    child.duration.observe(seconds);
  };
}
