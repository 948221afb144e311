import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics. One instance per process (or per test), never a global, so two
 * apps in one process (the all-in-one mode) share it explicitly.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({ name: 'sluice_http_requests_total', help: 'HTTP requests by route and status.', labelNames: ['route', 'status'] as const, registers: [this.registry] });
  readonly httpDuration = new Histogram({
    name: 'sluice_http_request_duration_seconds',
    help: 'HTTP request duration by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly eventsAccepted = new Counter({ name: 'sluice_events_accepted_total', help: 'Events acknowledged by the bus and answered 200.', registers: [this.registry] });
  readonly eventsRejected = new Counter({ name: 'sluice_events_rejected_total', help: 'Requests rejected by code.', labelNames: ['code'] as const, registers: [this.registry] });
  readonly eventsStored = new Counter({ name: 'sluice_events_stored_total', help: 'Events the store confirmed (created or already there).', labelNames: ['outcome'] as const, registers: [this.registry] });
  /** Dead letters written, by code and kind: one per event for `event` letters, one per message for `message` letters. */
  readonly eventsDeadLettered = new Counter({ name: 'sluice_dead_letters_total', help: 'Dead letters written, by code and kind (event: one per event; message: one per bus message).', labelNames: ['code', 'kind'] as const, registers: [this.registry] });
  readonly storeRetries = new Counter({ name: 'sluice_store_retries_total', help: 'Retried store writes after retryable failures.', registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'sluice_worker_batch_events', help: 'Events per store write.', buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000], registers: [this.registry] });
  readonly messagesNacked = new Counter({ name: 'sluice_worker_messages_nacked_total', help: 'Messages the worker isolated and handed back to the bus (dead-lettered after BUS_MAX_REDELIVER deliveries), by code.', labelNames: ['code'] as const, registers: [this.registry] });
  readonly workerStalled = new Gauge({ name: 'sluice_worker_stalled', help: '1 while the worker holds events and settled no message for 2 × STORAGE_RETRY_MAX_DELAY, else 0 (updated by /readyz).', registers: [this.registry] });
  readonly workerLastProgress = new Gauge({ name: 'sluice_worker_last_progress_timestamp_seconds', help: 'When the worker last acknowledged, nacked or dead-lettered a message (Unix seconds).', registers: [this.registry] });
  readonly workerInFlight = new Gauge({ name: 'sluice_worker_in_flight_events', help: 'Events received from the bus and not yet acknowledged.', registers: [this.registry] });

  /** ProfileCache reads that found a value, by operation (`get`; `claim` when the key already had a winner). */
  readonly cacheHits = new Counter({ name: 'sluice_cache_hits_total', help: 'Cache lookups that found a value, by operation (get; claim when the key already held a winner).', labelNames: ['operation'] as const, registers: [this.registry] });
  /** ProfileCache reads that found nothing, by operation (`get`; `claim` when this claim stored its value). */
  readonly cacheMisses = new Counter({ name: 'sluice_cache_misses_total', help: 'Cache lookups that found nothing, by operation (get; claim when this claim stored its value).', labelNames: ['operation'] as const, registers: [this.registry] });
  /** ProfileCache commands that failed (timeout, connection down, server error), by operation. */
  readonly cacheErrors = new Counter({ name: 'sluice_cache_errors_total', help: 'Cache commands that failed (timeout, connection down, server error), by operation.', labelNames: ['operation'] as const, registers: [this.registry] });
  /** Time from issuing a cache command to its answer or failure, seconds, by operation. */
  readonly cacheCommandDuration = new Histogram({
    name: 'sluice_cache_command_duration_seconds',
    help: 'Cache command latency (answer or failure), by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** /track requests whose identity was resolved without the cache (it failed or timed out): see docs/redis.md. */
  readonly identityDegraded = new Counter({ name: 'sluice_identity_degraded_total', help: 'Tracking requests whose profile was resolved without the cache (down or too slow): the client\'s profile id or the session\'s derived one was used.', registers: [this.registry] });
  /** Events refused with 429 RATE_LIMITED, by source. */
  readonly rateLimited = new Counter({ name: 'sluice_rate_limited_events_total', help: 'Events refused with 429 RATE_LIMITED, by source.', labelNames: ['source'] as const, registers: [this.registry] });
  /** Rate-limit decisions taken by the replica's local fallback bucket because the shared one (Redis) failed. */
  readonly rateLimitFallbacks = new Counter({ name: 'sluice_rate_limit_fallbacks_total', help: 'Rate-limit decisions taken by this replica\'s local bucket because the shared one (Redis) failed.', registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
