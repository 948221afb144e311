import { join } from 'node:path';
import { EmbeddedBus, MeteredBus, PulsarAdminBacklog, PulsarNativeBus, PulsarWsBus, GroupingBus, SpooledBus, loadNativePulsar, type BacklogReader, type EventBus } from '@sluice/bus';
import { LruProfileCache, RedisProfileCache, sharedEvictingServerWarning, type ProfileCache } from '@sluice/cache';
import type { Config } from '@sluice/config';
import { SluiceError } from '@sluice/core';
import { MysqlConfigStore, SqliteConfigStore, registerPoolMetrics, type ConfigStore } from '@sluice/config-store';
import { BullMqJobs, InProcessJobs, type Jobs } from '@sluice/jobs';
import type { HealthCheck, Logger, Metrics } from '@sluice/observability';
import { SqliteEventStore, type StoreAdapter } from '@sluice/store';
import { elasticStore } from './elastic.ts';

/**
 * One instance of each port, as chosen by configuration. The store is one adapter object
 * serving four callers; each caller's deps type names only its port (the worker an
 * EventSink, the API an EventReader, the jobs StoreMaintenance, `sluice init` a
 * StoreProvisioner), so none can reach the others' operations.
 */
export interface Adapters {
  readonly bus: EventBus;
  readonly store: StoreAdapter;
  readonly cache: ProfileCache;
  readonly configStore: ConfigStore;
  readonly jobs: Jobs;
}

export type Port = keyof Adapters;

export interface AdapterOptions {
  /** This process answers clients after publishing (the API): give a Pulsar bus its local spool. */
  readonly publisher?: boolean;
  /**
   * The process's metrics: the Redis cache records its hits, misses, errors and latency
   * there, and the bus is wrapped in a MeteredBus (publish latency, consumer lag, backlog).
   */
  readonly metrics?: Metrics;
}

/** Longest wait for the Redis cache at start before the process goes on without it (it keeps reconnecting), ms. */
const REDIS_CACHE_START_WAIT_MS = 5000;
/** Longest wait for each server while checking whether the cache and the jobs share one, ms. */
const SHARED_REDIS_CHECK_TIMEOUT_MS = 2000;

/** Builds only the adapters a deployable needs, each from its configuration slice. */
export async function createAdapters<P extends Port>(config: Config, logger: Logger, ports: readonly P[], options: AdapterOptions = {}): Promise<Pick<Adapters, P>> {
  const built: { -readonly [K in Port]?: Adapters[K] } = {};
  const wanted = new Set<Port>(ports);
  if (wanted.has('configStore')) built.configStore = await createConfigStore(config, logger, options.metrics);
  if (wanted.has('cache')) built.cache = await createCache(config, options.metrics);
  if (wanted.has('store')) built.store = createStore(config);
  if (wanted.has('bus')) built.bus = await createBus(config, logger, options.publisher === true, options.metrics);
  if (wanted.has('jobs')) built.jobs = createJobs(config, logger);
  if (wanted.has('cache') || wanted.has('jobs')) await warnWhenJobsShareAnEvictingCache(config, logger);
  return built as Pick<Adapters, P>;
}

/**
 * The configured store. Provisions nothing: on Elasticsearch that is `sluice init`'s (the
 * all-in-one runs it first); the SQLite file migrates its own schema when opened.
 */
function createStore(config: Config): StoreAdapter {
  if (config.adapters.store === 'embedded') return new SqliteEventStore({ path: join(config.dataDir, 'events.sqlite'), retentionMs: config.lifecycle.retentionMs });
  return elasticStore(config);
}

/**
 * The configured bus, measured when `metrics` is given: one MeteredBus outermost, so every
 * publisher is timed as it waits (a grouped or spooled publish included), with the backlog
 * read from the embedded log or from Pulsar's admin stats.
 */
async function createBus(config: Config, logger: Logger, spool: boolean, metrics: Metrics | undefined): Promise<EventBus> {
  const { bus, backlog } = await createUnmeteredBus(config, logger, spool);
  return metrics === undefined ? bus : new MeteredBus(bus, { metrics, topics: busTopics(config), backlog });
}

/** Named outputs → the configured topic names. */
function busTopics(config: Config): Record<'events' | 'dead-letters', string> {
  return { events: config.bus.topics.events, 'dead-letters': config.bus.topics.deadLetters };
}

/**
 * The configured bus and where its backlog can be read. `spool`: wrap Pulsar with the local
 * spool (publishers only: the API, the all-in-one process); a worker alone reads Pulsar
 * directly. Creates no namespace or topic: that is `sluice init`'s (replicas wait for it,
 * see ProvisioningGate).
 */
async function createUnmeteredBus(config: Config, logger: Logger, spool: boolean): Promise<{ bus: EventBus; backlog: BacklogReader }> {
  const topics = busTopics(config);
  if (config.adapters.bus === 'embedded') {
    const embedded = await EmbeddedBus.open({ dir: join(config.dataDir, 'bus'), topics, segmentBytes: config.bus.segmentBytes, fsync: config.bus.fsync });
    return { bus: embedded, backlog: embedded };
  }
  const pulsar = config.pulsar;
  const common = {
    ...(pulsar.authToken === undefined ? {} : { authToken: pulsar.authToken }),
    tenant: pulsar.tenant,
    namespace: pulsar.namespace,
    topics,
    sendTimeoutMs: pulsar.publishTimeoutMs,
    batching: pulsar.producerBatching,
    compression: pulsar.compression,
  };
  // Read only at scrape time, and only while admin access works (see PulsarAdminBacklog).
  const backlog = new PulsarAdminBacklog({ webServiceUrl: pulsar.webHost, ...(pulsar.authToken === undefined ? {} : { authToken: pulsar.authToken }), tenant: pulsar.tenant, namespace: pulsar.namespace, topics });
  let bus: EventBus;
  // `auto` is WebSocket: the native transport runs only where asked for (CI never exercises it).
  if (pulsar.transport === 'native') {
    const native = await loadNativePulsar();
    if (!('module' in native)) throw new SluiceError('CONFIG_INVALID', `PULSAR_TRANSPORT=native but the pulsar-client binding does not load: ${native.error}`);
    bus = new PulsarNativeBus(native.module, { ...common, serviceUrl: pulsar.host });
  } else bus = new PulsarWsBus({ ...common, webServiceUrl: pulsar.webHost, producers: pulsar.producers });
  // Below the spool: a group the broker does not acknowledge in time is spooled request by request.
  if (pulsar.grouping.maxBytes > 0) bus = new GroupingBus(bus, pulsar.grouping);
  if (!spool || !pulsar.spool.enabled) return { bus, backlog };
  const local = await EmbeddedBus.open({
    dir: join(config.dataDir, 'spool'),
    topics,
    segmentBytes: Math.max(64 * 1024, Math.min(config.bus.segmentBytes, Math.floor(pulsar.spool.maxBytes / 16))),
    fsync: config.bus.fsync,
    compactionIntervalMs: 2000,
  });
  return { backlog, bus: new SpooledBus(bus, local, { handoverMs: pulsar.spool.handoverMs, maxBytes: pulsar.spool.maxBytes, readyBelow: pulsar.spool.readyBelow, openCircuitMs: 2000, logger }) };
}

/**
 * The configured cache. Redis: waits for the connection at most REDIS_CACHE_START_WAIT_MS,
 * then goes on either way (the cache keeps reconnecting; its health says whether it is up).
 */
async function createCache(config: Config, metrics: Metrics | undefined): Promise<ProfileCache> {
  if (config.adapters.cache === 'embedded') return new LruProfileCache({ maxEntries: config.cache.maxEntries });
  return RedisProfileCache.open({ connection: config.redis, keyPrefix: config.cache.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, commandLingerMs: config.redis.commandLingerMs, metrics }, REDIS_CACHE_START_WAIT_MS);
}

function createJobs(config: Config, logger: Logger): Jobs {
  const onError = (job: string, error: unknown) => logger.error({ job, err: error }, 'job failed');
  if (config.adapters.jobs === 'embedded') return new InProcessJobs(onError);
  const { url, password } = config.jobs.redis;
  return new BullMqJobs({ url, ...(password === undefined ? {} : { password }), prefix: config.jobs.prefix }, onError);
}

/**
 * BullMQ needs a Redis that never evicts; a cache wants one that does. When the Redis
 * cache and BullMQ's jobs reach one server (compared by its run id, whatever URLs reach it)
 * and its policy evicts, say so at start. Only a warning: nothing stops. A server that
 * cannot be asked (down, forbidding INFO) is noted at info level.
 */
async function warnWhenJobsShareAnEvictingCache(config: Config, logger: Logger): Promise<void> {
  if (config.adapters.cache !== 'redis' || config.adapters.jobs !== 'bullmq') return;
  try {
    const warning = await sharedEvictingServerWarning(config.redis, config.jobs.redis, SHARED_REDIS_CHECK_TIMEOUT_MS);
    if (warning !== undefined) logger.warn(warning);
  } catch (error) {
    logger.info({ err: error }, 'could not check whether the cache and the jobs share an evicting Redis server');
  }
}

/**
 * The configured config store. Embedded: the SQLite file, migrated as it opens, with the
 * `demo` source when DEMO_SOURCE is on. MySQL: the tuned pool (its metrics in the process's
 * registry); it neither connects nor migrates here — migrating is `sluice init`'s (and the
 * all-in-one's, see initEngines), and the API waits for its first configuration within
 * CONFIG_START_TIMEOUT (apps/api SourceResolver).
 */
async function createConfigStore(config: Config, logger: Logger, metrics: Metrics | undefined): Promise<ConfigStore> {
  if (config.adapters.config === 'mysql') return mysqlConfigStore(config, metrics);
  const store = await SqliteConfigStore.open(join(config.dataDir, 'config.sqlite'));
  if (config.demoSource && (await store.getSource('demo')) === undefined) {
    await store.createSource({ id: 'demo', name: 'Demo source (DEMO_SOURCE=true)', allowedOrigins: ['*'] }).catch(() => undefined);
    logger.warn('created the enabled "demo" event source; set DEMO_SOURCE=false in production');
  }
  return store;
}

/** The MySQL config store of CONFIG_ADAPTER=mysql, its pool's figures in `metrics` when given. */
export function mysqlConfigStore(config: Config, metrics?: Metrics): MysqlConfigStore {
  if (metrics === undefined) return new MysqlConfigStore(config.configStore.mysql);
  const observer = registerPoolMetrics(metrics.registry);
  const store = new MysqlConfigStore(config.configStore.mysql, observer);
  observer.attach(store.pool);
  return store;
}

/** The health checks of whatever adapters are present, by port name. */
export function healthChecks(adapters: Partial<Adapters>): Record<string, HealthCheck> {
  const checks: Record<string, HealthCheck> = {};
  for (const [port, adapter] of Object.entries(adapters)) if (adapter !== undefined) checks[port] = adapter;
  return checks;
}

/** Closes adapters in dependency order: producers before storage, storage before config. */
export async function closeAdapters(adapters: Partial<Adapters>): Promise<void> {
  for (const port of ['jobs', 'bus', 'store', 'cache', 'configStore'] as const) await adapters[port]?.close();
}
