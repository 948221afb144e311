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
  /**
   * One store lookup of a profile the cache did not know (was it merged?), seconds, as the
   * API's request waits for it, by outcome: `merged`, `not_merged`, `timeout` (slower than
   * the lookup's bound, taken as not merged), `error`. Requests of profiles the cache knows
   * never ask the store, so this shows what the store adds to /track.
   */
  readonly profileLookup = new Histogram({
    name: 'sluice_profile_lookup_seconds',
    help: 'One store lookup of a profile the cache did not know (was it merged?), as the request waits for it, by outcome (merged, not_merged, timeout, error).',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  /**
   * Seconds since the API replica's last complete read of the profile merges (its filter of
   * merged profiles, see apps/api/src/known-merges.ts), read at scrape time; -1 in processes
   * without one (the workers).
   */
  readonly profileMergesReadAge: Gauge = new Gauge({
    name: 'sluice_profile_merges_read_age_seconds',
    help: 'Seconds since the API began its last complete read of the profile merges (its filter of merged profiles; since start before the first); above 30 the filter is not trusted and every profile the cache does not know is looked up in the store. -1: a process without one.',
    registers: [this.registry],
    collect: (): void => this.profileMergesReadAge.set(this.mergesAge?.() ?? -1),
  });
  /** What `profileMergesReadAge` reports (see `readMergesAgeWith`). */
  private mergesAge: (() => number) | undefined;
  /** /track requests whose identity was resolved without the cache (it failed or timed out): see docs/redis.md. */
  readonly identityDegraded = new Counter({ name: 'sluice_identity_degraded_total', help: 'Tracking requests whose profile was resolved without the cache (down or too slow): the client\'s profile id or the session\'s derived one was used.', registers: [this.registry] });
  /** Events refused with 429 RATE_LIMITED, by source. */
  readonly rateLimited = new Counter({ name: 'sluice_rate_limited_events_total', help: 'Events refused with 429 RATE_LIMITED, by source.', labelNames: ['source'] as const, registers: [this.registry] });
  /** Rate-limit decisions taken by the replica's local fallback bucket because the shared one (Redis) failed. */
  readonly rateLimitFallbacks = new Counter({ name: 'sluice_rate_limit_fallbacks_total', help: 'Rate-limit decisions taken by this replica\'s local bucket because the shared one (Redis) failed.', registers: [this.registry] });

  /**
   * Received → stored, seconds: from the API's `receivedAt` of an event to the store's
   * acknowledgement of its write (created, or already there), observed by the storage worker
   * once per stored event. Redeliveries and dead-letter replays are observed too (they keep
   * the event's first `receivedAt`): this is how long an operator waits for an event to be
   * readable. Unlabelled (bounded cardinality). Clamped at 0 when the API's and the worker's
   * clocks disagree.
   */
  readonly eventEndToEnd = new Histogram({
    name: 'sluice_event_end_to_end_seconds',
    help: 'Time from the API receiving an event to the store acknowledging its write (created or already there), per stored event; redeliveries and replays included.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  /** One store write of the worker (one batch, or a part of one being retried or isolated), seconds, by outcome: `ok`, `retry` (the store asked to retry some events), `error` (it threw). */
  readonly storeWrite = new Histogram({
    name: 'sluice_store_write_seconds',
    help: 'Duration of one store write of the storage worker (a batch or a part of one), by outcome: ok (every event settled), retry (the store asked to retry some), error (the write failed).',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  /** One publish as its caller sees it (the API, the Segment route, dead letters, replays), seconds, by topic and outcome (`ok`, `error`). */
  readonly busPublish = new Histogram({
    name: 'sluice_bus_publish_seconds',
    help: 'Duration of one bus publish as the caller sees it (until durable, a grouped publish included), by topic and outcome (ok, error).',
    labelNames: ['topic', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  /** Age of the messages this process's consumer last received (now − the bus's publish time), seconds; 0 after a receive that found nothing waiting. */
  readonly busConsumerLag = new Gauge({
    name: 'sluice_bus_consumer_lag_seconds',
    help: 'Age of the oldest message of the last receive on this subscription (now - publish time), seconds; 0 after a receive that found nothing waiting.',
    labelNames: ['topic', 'subscription'] as const,
    registers: [this.registry],
  });
  /**
   * Messages of a subscription not yet acknowledged (embedded: the log's head less what is
   * acknowledged; Pulsar: the admin stats' `msgBacklog`, read at most every few seconds and
   * absent where the admin API cannot be read). Set at scrape time by the bus wiring.
   */
  readonly busBacklog = new Gauge({
    name: 'sluice_bus_backlog_messages',
    help: 'Messages of the subscription not yet acknowledged (embedded: log head - acknowledged; Pulsar: admin msgBacklog, absent without admin access).',
    labelNames: ['topic', 'subscription'] as const,
    registers: [this.registry],
    collect: () => this.readBacklogs(),
  });
  /** Readers that set `busBacklog` when /metrics is scraped (see `addBacklogReader`). */
  private readonly backlogReaders = new Set<() => Promise<void>>();
  /** Configuration lookups of the tracking path, by kind (`source`, `event_types`) and result (`hit`: served from memory; `miss`: read from the config store). */
  readonly configLookups = new Counter({
    name: 'sluice_config_lookups_total',
    help: 'Configuration lookups of the tracking path, by kind (source, event_types) and result (hit: served from memory; miss: read from the config store).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  /** Background configuration refreshes, by result (`unchanged`: the revision had not moved; `loaded`: reloaded; `failed`: the store could not be read, the last configuration keeps serving). */
  readonly configRefreshes = new Counter({
    name: 'sluice_config_refreshes_total',
    help: 'Background configuration refreshes, by result (unchanged, loaded, failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Has `read` set `busBacklog` each time the metrics are collected (a scrape). `read` must
   * bound its own time and cache what is costly (the Pulsar admin stats); a failure of it
   * leaves the gauge as it was and never fails the scrape. Returns the unregister function.
   */
  addBacklogReader(read: () => Promise<void>): () => void {
    this.backlogReaders.add(read);
    return () => this.backlogReaders.delete(read);
  }

  /** Has `profileMergesReadAge` report `read()` at each scrape. */
  readMergesAgeWith(read: () => number): void {
    this.mergesAge = read;
  }

  private async readBacklogs(): Promise<void> {
    await Promise.all([...this.backlogReaders].map((read) => read().catch(() => undefined)));
  }
}
