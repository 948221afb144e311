import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, backoffDelayMs } from '@sluice/core';
import type { ConfigSnapshot, ConfigStore, EventSource, EventType } from '@sluice/config-store';
import type { DependencyHealth, HealthCheck, Logger, Metrics } from '@sluice/observability';

/** The configuration the tracking path reads, indexed for lookups. */
export interface ServedConfig {
  readonly revision: number;
  readonly sources: ReadonlyMap<string, EventSource>;
  readonly eventTypes: ReadonlyMap<string, EventType>;
  /** Allowed origins of the enabled sources (CORS preflight). */
  readonly origins: ReadonlySet<string>;
}

export interface SourceResolverOptions {
  /** SOURCE_CACHE_TTL in ms: how often the background refresh asks the store; 0: read the store on every request. */
  readonly ttlMs: number;
  /** CONFIG_START_TIMEOUT in ms: longest wait for the first configuration at start. */
  readonly startTimeoutMs: number;
  readonly logger: Logger;
  /** Where lookups (`sluice_config_lookups_total`) and background refreshes (`sluice_config_refreshes_total`) are counted. */
  readonly metrics?: Pick<Metrics, 'configLookups' | 'configRefreshes'>;
}

/**
 * What a tracking request looks up: its source (authorise, get), the origins of every
 * source (CORS preflight), the event types (validation). The `kind` label.
 */
type LookupKind = 'source' | 'origins' | 'event_types';

/** Start-up retries back off from 0.25 s to at most 5 s apart. */
const START_BACKOFF = { baseDelayMs: 250, maxDelayMs: 5000 };

/**
 * Event sources and event types as the tracking path sees them: served from memory, never
 * waiting on the config store. Every SOURCE_CACHE_TTL a background refresh reads the store's
 * revision (one cheap query) and reloads everything only when it changed, so a change made
 * through any replica applies on every replica within SOURCE_CACHE_TTL (plus the reload).
 *
 * Through a config store outage the last configuration keeps serving: the refresh fails,
 * the configuration is marked stale (its /readyz check stays ok, with `stale: true` and
 * since when), and the next refresh that succeeds clears it. At start, `start()` waits for
 * a first configuration at most CONFIG_START_TIMEOUT, then fails with the reason.
 *
 * With SOURCE_CACHE_TTL=0 (tests) there is no cache: every request reads the store.
 */
export class SourceResolver implements HealthCheck {
  private served: ServedConfig | undefined;
  private staleSince: number | undefined;
  private lastError: string | undefined;
  private lastRefreshAt = 0;
  private adapter = 'unknown';
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private readonly stopping = new AbortController();
  private readonly configStore: ConfigStore;
  private readonly options: SourceResolverOptions;

  constructor(configStore: ConfigStore, options: SourceResolverOptions) {
    this.configStore = configStore;
    this.options = options;
  }

  /**
   * Loads the first configuration, retrying with backoff for at most CONFIG_START_TIMEOUT
   * (throws CONFIG_UNAVAILABLE naming the last failure then), and starts the background refresh.
   */
  async start(): Promise<void> {
    this.adapter = (await this.configStore.health()).adapter;
    if (this.options.ttlMs === 0) return;
    const deadline = Date.now() + this.options.startTimeoutMs;
    for (let attempt = 0; this.served === undefined; attempt += 1) {
      try {
        this.install(await this.configStore.snapshot());
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (Date.now() >= deadline || this.stopping.signal.aborted) {
          throw new SluiceError('CONFIG_UNAVAILABLE', `no configuration from the config store (${this.adapter}) within CONFIG_START_TIMEOUT (${String(this.options.startTimeoutMs / 1000)} s): ${reason}`, { cause: error });
        }
        this.options.logger.warn({ err: error, attempt }, 'the config store does not answer yet; retrying');
        await sleep(Math.min(backoffDelayMs(START_BACKOFF, attempt), Math.max(0, deadline - Date.now())), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
    this.timer = setInterval(() => void this.refresh(), this.options.ttlMs);
    this.timer.unref();
  }

  /** Stops the background refresh (and a start still waiting); idempotent. */
  stop(): void {
    this.stopping.abort();
    clearInterval(this.timer);
  }

  /** The enabled source, or SOURCE_NOT_FOUND / SOURCE_DISABLED / ORIGIN_NOT_ALLOWED. */
  async authorise(sourceId: string, origin: string | undefined): Promise<EventSource> {
    const served = await this.lookup('source');
    const source = served.sources.get(sourceId);
    if (source === undefined) throw new SluiceError('SOURCE_NOT_FOUND', `unknown event source "${sourceId}"`);
    if (!source.enabled) throw new SluiceError('SOURCE_DISABLED', `event source "${sourceId}" is disabled`);
    if (origin !== undefined && !originAllowed(source.allowedOrigins, origin)) {
      throw new SluiceError('ORIGIN_NOT_ALLOWED', `origin ${origin} is not allowed for source "${sourceId}"`);
    }
    return source;
  }

  /** For CORS preflight (which carries no body): is the origin allowed by any enabled source? */
  async anySourceAllows(origin: string): Promise<boolean> {
    const { origins } = await this.lookup('origins');
    return origins.has('*') || origins.has(origin);
  }

  /** The source of this id, enabled or not, as served now; undefined when there is none. */
  async get(sourceId: string): Promise<EventSource | undefined> {
    return (await this.lookup('source')).sources.get(sourceId);
  }

  /** The event types as served now (read from the store when there is no cache). */
  async eventTypes(): Promise<ReadonlyMap<string, EventType>> {
    return (await this.lookup('event_types')).eventTypes;
  }

  /** Ready once a configuration is loaded; `stale` (and since when) while the store cannot be read. */
  async health(): Promise<DependencyHealth> {
    if (this.options.ttlMs === 0) return this.configStore.health();
    const served = this.served;
    if (served === undefined) return { ok: false, adapter: this.adapter, error: this.lastError ?? 'no configuration loaded yet', detail: { stale: true } };
    const stale = this.staleSince !== undefined;
    return {
      ok: true,
      adapter: this.adapter,
      detail: { stale, staleForSeconds: stale ? Math.round((Date.now() - (this.staleSince ?? 0)) / 1000) : 0, revision: served.revision, sources: served.sources.size, eventTypes: served.eventTypes.size, refreshedSecondsAgo: Math.round((Date.now() - this.lastRefreshAt) / 1000) },
      ...(stale && this.lastError !== undefined ? { error: `serving the configuration of revision ${String(served.revision)} while the config store cannot be read: ${this.lastError}` } : {}),
    };
  }

  /** One background refresh: reload when the store's revision moved; on failure keep serving, marked stale. */
  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const revision = await this.configStore.revision();
      const moved = revision !== this.served?.revision;
      if (moved) this.install(await this.configStore.snapshot());
      else this.lastRefreshAt = Date.now();
      this.options.metrics?.configRefreshes.inc({ result: moved ? 'loaded' : 'unchanged' });
      if (this.staleSince !== undefined) this.options.logger.warn({ staleForMs: Date.now() - this.staleSince }, 'the config store answers again: configuration fresh');
      this.staleSince = undefined;
      this.lastError = undefined;
    } catch (error) {
      this.options.metrics?.configRefreshes.inc({ result: 'failed' });
      this.lastError = error instanceof Error ? error.message : String(error);
      if (this.staleSince === undefined) {
        this.staleSince = Date.now();
        this.options.logger.warn({ err: error }, 'the config store cannot be read: serving the last configuration (stale) until it answers');
      }
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * The configuration a lookup reads, counted: a `hit` when served from memory, a `miss`
   * when read from the config store (SOURCE_CACHE_TTL=0, or no configuration loaded yet).
   */
  private async lookup(kind: LookupKind): Promise<ServedConfig> {
    const served = this.served;
    this.options.metrics?.configLookups.inc({ kind, result: served === undefined ? 'miss' : 'hit' });
    return served ?? (await this.readThrough());
  }

  private async readThrough(): Promise<ServedConfig> {
    return indexed(await this.configStore.snapshot());
  }

  /**
   * After a change made through this replica's admin API: reloads now, so that the change
   * applies here at once (other replicas see it within SOURCE_CACHE_TTL). A failure is left
   * to the background refresh: the change itself is stored.
   */
  async reload(): Promise<void> {
    if (this.options.ttlMs === 0 || this.served === undefined) return;
    await this.configStore.snapshot().then((snapshot) => this.install(snapshot), () => undefined);
  }

  /** Serves `snapshot`, unless a newer one is served already (a slower refresh finishing late). */
  private install(snapshot: ConfigSnapshot): void {
    if (this.served !== undefined && snapshot.revision < this.served.revision) return;
    this.served = indexed(snapshot);
    this.lastRefreshAt = Date.now();
  }
}

function indexed(snapshot: ConfigSnapshot): ServedConfig {
  const origins = new Set<string>();
  for (const source of snapshot.sources) if (source.enabled) for (const origin of source.allowedOrigins) origins.add(origin);
  return {
    revision: snapshot.revision,
    sources: new Map(snapshot.sources.map((source) => [source.id, source])),
    eventTypes: new Map(snapshot.eventTypes.map((eventType) => [eventType.name, eventType])),
    origins,
  };
}

/**
 * The process's checks as /readyz serves them, with the config store's check answered by
 * the resolver (ready while it serves a configuration, stale or not): a config store outage
 * must not take replicas out of the load balancer, since tracking does not need the store.
 * A live view: checks added to `checks` later (the all-in-one's worker) appear too.
 */
export function servingChecks(checks: Readonly<Record<string, HealthCheck>>, resolver: SourceResolver): Readonly<Record<string, HealthCheck>> {
  return new Proxy(checks, { get: (target, key, receiver) => (key === 'configStore' && 'configStore' in target ? resolver : Reflect.get(target, key, receiver)) as unknown });
}

export function originAllowed(allowedOrigins: readonly string[], origin: string): boolean {
  return allowedOrigins.includes('*') || allowedOrigins.includes(origin);
}
