import { resolve } from 'node:path';
import type { z } from 'zod';
import { SluiceError } from '@sluice/core';
import { redactUrl } from '@sluice/observability';
import type { EnvSpec } from './spec.ts';
import { SPECS, type SpecName } from './specs.ts';

type Parsed = { -readonly [K in SpecName]: (typeof SPECS)[K] extends EnvSpec<infer T> ? T : never };

export type LogLevel = Parsed['LOGGING_LEVEL'];

/** The typed, frozen configuration, in slices: each component receives only its own. */
export interface Config {
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly trustProxy: boolean;
    readonly adminToken: string | undefined;
    readonly sourceCacheTtlMs: number;
    /** Request line and headers must arrive within this; else 408 and the connection is closed. */
    readonly headersTimeoutMs: number;
    /** The whole request, body included, must arrive within this; else 408 and the connection is closed. */
    readonly requestTimeoutMs: number;
    /** Idle keep-alive connections are closed after this. */
    readonly keepAliveTimeoutMs: number;
  };
  readonly track: { readonly maxBodyBytes: number; readonly maxEvents: number; readonly maxPropertiesBytes: number; readonly maxDepth: number; readonly maxKeys: number; readonly publishTimeoutMs: number; readonly retryMemorySeconds: number; readonly rateLimitPerSecond: number };
  /** The Segment-compatible routes' limits (apps/api/src/segment). */
  readonly segment: { readonly maxEventBytes: number; readonly maxBatchBytes: number };
  readonly logging: { readonly level: LogLevel };
  readonly dataDir: string;
  readonly shutdownTimeoutMs: number;
  readonly adapters: { readonly bus: Parsed['BUS_ADAPTER']; readonly store: Parsed['STORE_ADAPTER']; readonly cache: Parsed['CACHE_ADAPTER']; readonly config: Parsed['CONFIG_ADAPTER']; readonly jobs: Parsed['JOBS_ADAPTER'] };
  readonly bus: {
    /** Named outputs → topic names. Code publishes to outputs, never to topic strings. */
    readonly topics: { readonly events: string; readonly deadLetters: string };
    readonly subscription: string;
    readonly maxRedeliver: number;
    readonly nackDelayMs: number;
    readonly segmentBytes: number;
    readonly fsync: boolean;
  };
  readonly elastic: {
    readonly nodes: readonly string[];
    readonly username: string | undefined;
    readonly password: string | undefined;
    readonly apiKey: string | undefined;
    readonly caFile: string | undefined;
    readonly verifyCerts: boolean;
    readonly maxConnections: number;
    readonly requestTimeoutMs: number;
    readonly compression: boolean;
    readonly shards: number;
    readonly replicas: number;
    readonly refreshInterval: string;
    /** Index name prefix: TENANT_NAME and "-", or nothing. */
    readonly prefix: string;
  };
  readonly pulsar: {
    readonly host: string;
    readonly webHost: string;
    readonly transport: Parsed['PULSAR_TRANSPORT'];
    readonly authToken: string | undefined;
    readonly tenant: string;
    readonly namespace: string;
    readonly cluster: string;
    readonly topicPartitions: number;
    readonly retentionMinutes: number;
    readonly retentionSizeMb: number;
    readonly producerBatching: boolean;
    readonly compression: Parsed['PULSAR_COMPRESSION'];
    readonly publishTimeoutMs: number;
    /** Grouping of /track requests into one bus message; `maxBytes` 0: off. */
    readonly grouping: { readonly lingerMs: number; readonly maxBytes: number; readonly maxEvents: number; readonly partitions: number };
    readonly producers: number;
    readonly spool: { readonly enabled: boolean; readonly handoverMs: number; readonly maxBytes: number; readonly readyBelow: number };
  };
  readonly worker: { readonly batchSize: number; readonly concurrency: number; readonly flushIntervalMs: number; readonly retryBaseDelayMs: number; readonly retryMaxDelayMs: number; readonly isolateAfter: number };
  readonly lifecycle: { readonly retentionMs: number; readonly intervalMs: number };
  readonly elasticLifecycle: {
    readonly mode: Parsed['ELASTIC_LIFECYCLE'];
    readonly rollover: { readonly maxPrimaryShardSizeBytes: number; readonly maxAgeMs: number; readonly maxDocs: number };
    /** Times after rollover; 0 skips the phase. */
    readonly warmAfterMs: number;
    readonly coldAfterMs: number;
    /** 0: never deleted. */
    readonly deleteAfterMs: number;
    readonly forcemergeSegments: number;
  };
  readonly snapshots:
    | { readonly enabled: false }
    | { readonly enabled: true; readonly repository: string; readonly type: Parsed['ELASTIC_SNAPSHOT_REPOSITORY_TYPE']; readonly location: string | undefined; readonly intervalMs: number; readonly keep: number };
  /** The cache's Redis (CACHE_ADAPTER=redis): directly at `url`, or through `sentinel`. */
  readonly redis: {
    readonly url: string;
    readonly password: string | undefined;
    readonly sentinel: { readonly sentinels: readonly { readonly host: string; readonly port: number }[]; readonly masterName: string } | undefined;
    readonly commandTimeoutMs: number;
    /** REDIS_COMMAND_LINGER: how long a cache command waits for others to share its pipeline, ms. */
    readonly commandLingerMs: number;
  };
  /** Jobs: key prefix in Redis (per tenant), and their Redis (JOBS_REDIS_HOST, else REDIS_HOST). */
  /** The config store: its start wait, and MySQL's connection and pool (CONFIG_ADAPTER=mysql). */
  readonly configStore: {
    readonly startTimeoutMs: number;
    readonly mysql: {
      readonly host: string;
      readonly port: number;
      readonly database: string;
      readonly username: string;
      readonly password: string | undefined;
      readonly poolSize: number;
      readonly maxOverflow: number;
      readonly poolTimeoutMs: number;
      readonly recycleMs: number;
      readonly queryTimeoutMs: number;
      readonly tls: { readonly enabled: boolean; readonly caFile: string | undefined; readonly verify: boolean };
    };
  };
  readonly jobs: { readonly prefix: string; readonly redis: { readonly url: string; readonly password: string | undefined } };
  readonly cache: {
    readonly profileTtlSeconds: number;
    readonly sessionTtlSeconds: number;
    readonly maxEntries: number;
    /** Redis adapter: prefix of every key (`sluice:cache:`, `<tenant>-sluice:cache:`). */
    readonly keyPrefix: string;
  };
  readonly demoSource: boolean;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Parses the environment once. Every invalid value is collected; if any, one
 * CONFIG_INVALID error lists them all (secrets are never echoed).
 */
export function loadConfig(environment: Environment = process.env): Config {
  const { values, problems } = parseAll(environment);
  const topicProblem = values.BUS_TOPIC_EVENTS !== undefined && values.BUS_TOPIC_EVENTS === values.BUS_TOPIC_DEAD_LETTERS;
  if (topicProblem) problems.push('BUS_TOPIC_DEAD_LETTERS: must differ from BUS_TOPIC_EVENTS');
  if (values.HTTP_HEADERS_TIMEOUT !== undefined && values.HTTP_REQUEST_TIMEOUT !== undefined && values.HTTP_HEADERS_TIMEOUT > values.HTTP_REQUEST_TIMEOUT) {
    problems.push('HTTP_HEADERS_TIMEOUT: must be at most HTTP_REQUEST_TIMEOUT');
  }
  if (values.STORAGE_RETRY_BASE_DELAY !== undefined && values.STORAGE_RETRY_MAX_DELAY !== undefined && values.STORAGE_RETRY_BASE_DELAY > values.STORAGE_RETRY_MAX_DELAY) {
    problems.push('STORAGE_RETRY_MAX_DELAY: must be at least STORAGE_RETRY_BASE_DELAY');
  }
  const phases = [values.ELASTIC_WARM_AFTER, values.ELASTIC_COLD_AFTER, values.EVENTS_RETENTION].filter((ms): ms is number => ms !== undefined && ms > 0);
  if (values.STORE_ADAPTER === 'elasticsearch' && phases.some((ms, i) => i > 0 && ms < (phases[i - 1] ?? 0))) {
    problems.push('ELASTIC_COLD_AFTER: the phases must come in order: ELASTIC_WARM_AFTER ≤ ELASTIC_COLD_AFTER ≤ EVENTS_RETENTION (0 skips a phase)');
  }
  if (values.ELASTIC_SNAPSHOT_REPOSITORY !== undefined && values.ELASTIC_SNAPSHOT_REPOSITORY_TYPE !== 'existing' && values.ELASTIC_SNAPSHOT_LOCATION === undefined) {
    problems.push('ELASTIC_SNAPSHOT_LOCATION: required when ELASTIC_SNAPSHOT_REPOSITORY_TYPE is fs or s3');
  }
  if ((values.REDIS_SENTINELS === undefined) !== (values.REDIS_SENTINEL_MASTER === undefined)) {
    problems.push('REDIS_SENTINEL_MASTER: set REDIS_SENTINELS and REDIS_SENTINEL_MASTER together (or neither)');
  }
  if (problems.length > 0) {
    throw new SluiceError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: problems.map((problem) => ({ path: problem.split(':')[0] ?? '', message: problem })),
    });
  }
  return deepFreeze(toConfig(values as Parsed));
}

function parseAll(environment: Environment): { values: Partial<Parsed>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const spec of Object.values(SPECS) as EnvSpec<unknown>[]) {
    const raw = readRaw(environment, spec);
    if (raw === undefined) continue;
    const result = (spec.schema).safeParse(raw);
    if (result.success) values[spec.name] = result.data;
    else problems.push(`${spec.name}: ${describe(result.error, spec, raw)}`);
  }
  return { values: values, problems };
}

function readRaw(environment: Environment, spec: EnvSpec<unknown>): string | undefined {
  const given = environment[spec.name];
  if (given !== undefined && given.trim() !== '') return given.trim();
  return spec.default;
}

function describe(error: z.ZodError, spec: EnvSpec<unknown>, raw: string): string {
  const reason = error.issues.map((issue) => issue.message).join('; ');
  // Secrets are never echoed, nor credentials inside a URL.
  return spec.secret === true ? `${reason} (value hidden)` : `${reason} (got "${redactUrl(raw)}")`;
}

function toConfig(v: Parsed): Config {
  return {
    http: {
      host: v.HOST,
      port: v.PORT,
      trustProxy: v.TRUST_PROXY,
      adminToken: v.ADMIN_TOKEN,
      sourceCacheTtlMs: v.SOURCE_CACHE_TTL * 1000,
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT,
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT,
      keepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT,
    },
    track: { maxBodyBytes: v.TRACK_MAX_BODY_SIZE, maxEvents: v.TRACK_MAX_EVENTS, maxPropertiesBytes: v.TRACK_MAX_PROPERTIES_SIZE, maxDepth: v.TRACK_MAX_DEPTH, maxKeys: v.TRACK_MAX_KEYS, publishTimeoutMs: v.BUS_PUBLISH_TIMEOUT, retryMemorySeconds: v.TRACK_RETRY_MEMORY, rateLimitPerSecond: v.TRACK_RATE_LIMIT },
    segment: { maxEventBytes: v.SEGMENT_MAX_EVENT_SIZE, maxBatchBytes: v.SEGMENT_MAX_BATCH_SIZE },
    logging: { level: v.LOGGING_LEVEL },
    dataDir: resolve(v.DATA_DIR),
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT,
    adapters: { bus: v.BUS_ADAPTER, store: v.STORE_ADAPTER, cache: v.CACHE_ADAPTER, config: v.CONFIG_ADAPTER, jobs: v.JOBS_ADAPTER },
    bus: {
      topics: { events: v.BUS_TOPIC_EVENTS, deadLetters: v.BUS_TOPIC_DEAD_LETTERS },
      subscription: v.BUS_SUBSCRIPTION,
      maxRedeliver: v.BUS_ADAPTER === 'pulsar' ? (v.PULSAR_MAX_REDELIVER ?? v.BUS_MAX_REDELIVER) : v.BUS_MAX_REDELIVER,
      nackDelayMs: v.BUS_NACK_DELAY,
      segmentBytes: v.BUS_SEGMENT_SIZE,
      fsync: v.BUS_FSYNC,
    },
    elastic: {
      nodes: v.ELASTIC_HOST,
      username: v.ELASTIC_HTTP_AUTH_USERNAME,
      password: v.ELASTIC_HTTP_AUTH_PASSWORD,
      apiKey: v.ELASTIC_API_KEY,
      caFile: v.ELASTIC_CA_FILE,
      verifyCerts: v.ELASTIC_VERIFY_CERTS,
      maxConnections: v.ELASTIC_MAX_CONN,
      requestTimeoutMs: v.ELASTIC_QUERY_TIMEOUT,
      compression: v.ELASTIC_COMPRESSION,
      shards: v.ELASTIC_INDEX_SHARDS,
      replicas: v.ELASTIC_INDEX_REPLICAS,
      refreshInterval: v.ELASTIC_REFRESH_INTERVAL,
      prefix: v.TENANT_NAME === undefined ? '' : `${v.TENANT_NAME}-`,
    },
    pulsar: {
      host: v.PULSAR_HOST,
      webHost: v.PULSAR_WEB_HOST,
      transport: v.PULSAR_TRANSPORT,
      authToken: v.PULSAR_AUTH_TOKEN,
      tenant: v.PULSAR_TENANT,
      namespace: v.PULSAR_NAMESPACE,
      cluster: v.PULSAR_CLUSTER,
      topicPartitions: v.PULSAR_TOPIC_PARTITIONS,
      retentionMinutes: v.PULSAR_RETENTION * 24 * 60,
      retentionSizeMb: v.PULSAR_RETENTION_SIZE,
      producerBatching: v.PULSAR_PRODUCER_BATCHING,
      compression: v.PULSAR_COMPRESSION,
      publishTimeoutMs: v.BUS_PUBLISH_TIMEOUT,
      grouping: { lingerMs: v.PULSAR_GROUP_LINGER, maxBytes: v.PULSAR_GROUP_BYTES, maxEvents: v.TRACK_MAX_EVENTS, partitions: v.PULSAR_TOPIC_PARTITIONS },
      producers: v.PULSAR_PRODUCERS,
      // The handover must leave the spool write time within the request's publish timeout.
      spool: { enabled: v.SPOOL_ENABLED, handoverMs: Math.min(v.SPOOL_HANDOVER, Math.floor(v.BUS_PUBLISH_TIMEOUT / 2)), maxBytes: v.SPOOL_MAX_SIZE, readyBelow: v.SPOOL_READY_THRESHOLD / 100 },
    },
    worker: { batchSize: v.STORAGE_BATCH_SIZE, concurrency: v.STORAGE_CONCURRENCY, flushIntervalMs: v.STORAGE_FLUSH_INTERVAL, retryBaseDelayMs: v.STORAGE_RETRY_BASE_DELAY, retryMaxDelayMs: v.STORAGE_RETRY_MAX_DELAY, isolateAfter: v.STORAGE_ISOLATE_AFTER },
    lifecycle: { retentionMs: v.EVENTS_RETENTION, intervalMs: v.LIFECYCLE_INTERVAL * 1000 },
    elasticLifecycle: {
      mode: v.ELASTIC_LIFECYCLE,
      rollover: { maxPrimaryShardSizeBytes: v.ELASTIC_ROLLOVER_MAX_PRIMARY_SHARD_SIZE, maxAgeMs: v.ELASTIC_ROLLOVER_MAX_AGE, maxDocs: v.ELASTIC_ROLLOVER_MAX_DOCS },
      warmAfterMs: v.ELASTIC_WARM_AFTER,
      coldAfterMs: v.ELASTIC_COLD_AFTER,
      deleteAfterMs: v.EVENTS_RETENTION,
      forcemergeSegments: v.ELASTIC_FORCEMERGE_SEGMENTS,
    },
    snapshots:
      v.ELASTIC_SNAPSHOT_REPOSITORY === undefined
        ? { enabled: false }
        : { enabled: true, repository: v.ELASTIC_SNAPSHOT_REPOSITORY, type: v.ELASTIC_SNAPSHOT_REPOSITORY_TYPE, location: v.ELASTIC_SNAPSHOT_LOCATION, intervalMs: v.ELASTIC_SNAPSHOT_INTERVAL, keep: v.ELASTIC_SNAPSHOT_KEEP },
    redis: {
      url: v.REDIS_HOST,
      password: v.REDIS_PASSWORD,
      sentinel: v.REDIS_SENTINELS === undefined || v.REDIS_SENTINEL_MASTER === undefined ? undefined : { sentinels: v.REDIS_SENTINELS, masterName: v.REDIS_SENTINEL_MASTER },
      commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT,
      commandLingerMs: v.REDIS_COMMAND_LINGER,
    },
    configStore: {
      startTimeoutMs: v.CONFIG_START_TIMEOUT * 1000,
      mysql: {
        host: v.MYSQL_HOST,
        port: v.MYSQL_PORT,
        database: v.MYSQL_DATABASE,
        username: v.MYSQL_USERNAME,
        password: v.MYSQL_PASSWORD,
        poolSize: v.MYSQL_POOL_SIZE,
        maxOverflow: v.MYSQL_POOL_MAX_OVERFLOW,
        poolTimeoutMs: v.MYSQL_POOL_TIMEOUT * 1000,
        recycleMs: v.MYSQL_POOL_RECYCLE * 1000,
        queryTimeoutMs: v.MYSQL_QUERY_TIMEOUT,
        tls: { enabled: v.MYSQL_TLS, caFile: v.MYSQL_TLS_CA_FILE, verify: v.MYSQL_TLS_VERIFY },
      },
    },
    jobs: {
      prefix: sluicePrefix(v.TENANT_NAME),
      // A separate jobs server has its own password; without one, the jobs share REDIS_PASSWORD.
      redis: { url: v.JOBS_REDIS_HOST ?? v.REDIS_HOST, password: v.JOBS_REDIS_PASSWORD ?? v.REDIS_PASSWORD },
    },
    cache: { profileTtlSeconds: v.KEEP_PROFILE_IN_CACHE_FOR, sessionTtlSeconds: v.KEEP_SESSION_IN_CACHE_FOR, maxEntries: v.CACHE_MAX_ENTRIES, keyPrefix: `${sluicePrefix(v.TENANT_NAME)}:cache:` },
    demoSource: v.DEMO_SOURCE,
  };
}

/** `sluice`, or `<tenant>-sluice` with TENANT_NAME: the root of Sluice's Redis keys. */
function sluicePrefix(tenant: string | undefined): string {
  return tenant === undefined ? 'sluice' : `${tenant}-sluice`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
