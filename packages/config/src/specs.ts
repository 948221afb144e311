import { z } from 'zod';
import { bool, duration, env, int, name, oneOf, size, str, url } from './spec.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Every environment variable Sluice reads. Names follow Tracardi's where the meaning is the same. */
export const SPECS = {
  HOST: env({ name: 'HOST', group: 'HTTP', schema: str(), default: '0.0.0.0', unit: 'address', description: 'Interface the HTTP API listens on.' }),
  PORT: env({ name: 'PORT', group: 'HTTP', schema: int(0, 65535), default: '8686', unit: 'port', description: 'TCP port of the HTTP API (0 picks a free one).' }),
  TRUST_PROXY: env({ name: 'TRUST_PROXY', group: 'HTTP', schema: bool(), default: 'false', unit: 'boolean', description: 'Take the client IP from X-Forwarded-For (set behind a load balancer).' }),
  TRACK_MAX_BODY_SIZE: env({ name: 'TRACK_MAX_BODY_SIZE', group: 'HTTP', schema: int(1 * KiB, 64 * MiB), default: String(1 * MiB), unit: 'bytes', description: 'Largest request body accepted by /track; larger answers 413 BODY_TOO_LARGE.' }),
  TRACK_MAX_EVENTS: env({ name: 'TRACK_MAX_EVENTS', group: 'HTTP', schema: int(1, 5000), default: '100', unit: 'events', description: 'Most events in one /track request; more answers 413 TOO_MANY_EVENTS.' }),
  TRACK_MAX_PROPERTIES_SIZE: env({ name: 'TRACK_MAX_PROPERTIES_SIZE', group: 'HTTP', schema: int(256, 16 * MiB), default: String(64 * KiB), unit: 'bytes', description: 'Largest serialised properties + context of one event; larger answers 413 PROPERTIES_TOO_LARGE.' }),
  ADMIN_TOKEN: env({ name: 'ADMIN_TOKEN', group: 'HTTP', schema: str(16, 512), default: undefined, unit: 'secret (≥16 chars)', description: 'Bearer token of the admin and read API (/v1/…). Unset: those routes answer 403 ADMIN_DISABLED.', secret: true }),

  LOGGING_LEVEL: env({ name: 'LOGGING_LEVEL', group: 'Operations', schema: oneOf(['debug', 'info', 'warning', 'error', 'critical']), default: 'warning', unit: 'level', description: 'Least severe level written to the structured (JSON) log on stdout.' }),
  DATA_DIR: env({ name: 'DATA_DIR', group: 'Operations', schema: str(), default: './.data', unit: 'path', description: 'Directory of the embedded adapters: bus log, SQLite event store and configuration.' }),
  SHUTDOWN_TIMEOUT: env({ name: 'SHUTDOWN_TIMEOUT', group: 'Operations', schema: int(100, 600_000), default: '10000', unit: 'ms', description: 'Longest time each shutdown step (drain, flush, close) may take before the next one runs.' }),
  SOURCE_CACHE_TTL: env({ name: 'SOURCE_CACHE_TTL', group: 'Operations', schema: int(0, 86_400), default: '10', unit: 's', description: 'How long the API caches an event source (0 = read it on every request).' }),
  DEMO_SOURCE: env({ name: 'DEMO_SOURCE', group: 'Operations', schema: bool(), default: 'true', unit: 'boolean', description: 'With the embedded config store, create an enabled `demo` source (any origin) at start if missing.' }),

  BUS_ADAPTER: env({ name: 'BUS_ADAPTER', group: 'Adapters', schema: oneOf(['embedded', 'pulsar']), default: 'embedded', unit: 'name', description: 'EventBus adapter. `embedded`: durable local log under DATA_DIR. `pulsar`: Apache Pulsar (PULSAR_*), over its WebSocket API.' }),
  STORE_ADAPTER: env({ name: 'STORE_ADAPTER', group: 'Adapters', schema: oneOf(['embedded', 'elasticsearch']), default: 'embedded', unit: 'name', description: 'EventStore adapter. `embedded`: SQLite file under DATA_DIR. `elasticsearch`: Elasticsearch 8 or 9 (ELASTIC_*).' }),
  CACHE_ADAPTER: env({ name: 'CACHE_ADAPTER', group: 'Adapters', schema: oneOf(['embedded']), default: 'embedded', unit: 'name', description: 'ProfileCache adapter. `embedded`: in-process LRU.' }),
  CONFIG_ADAPTER: env({ name: 'CONFIG_ADAPTER', group: 'Adapters', schema: oneOf(['embedded']), default: 'embedded', unit: 'name', description: 'ConfigStore adapter. `embedded`: SQLite file under DATA_DIR.' }),
  JOBS_ADAPTER: env({ name: 'JOBS_ADAPTER', group: 'Adapters', schema: oneOf(['embedded', 'bullmq']), default: 'embedded', unit: 'name', description: 'Jobs adapter. `embedded`: in-process scheduler (each process runs its jobs). `bullmq`: BullMQ on Redis (REDIS_HOST), each run once across all replicas.' }),

  BUS_TOPIC_EVENTS: env({ name: 'BUS_TOPIC_EVENTS', group: 'Bus', schema: name(), default: 'events', unit: 'name', description: 'Topic of the `events` output (tracked events, API → workers).' }),
  BUS_TOPIC_DEAD_LETTERS: env({ name: 'BUS_TOPIC_DEAD_LETTERS', group: 'Bus', schema: name(), default: 'dead-letters', unit: 'name', description: 'Topic of the `dead-letters` output (events that can never be stored, with reasons).' }),
  BUS_SUBSCRIPTION: env({ name: 'BUS_SUBSCRIPTION', group: 'Bus', schema: name(), default: 'storage', unit: 'name', description: 'Subscription the storage workers share.' }),
  BUS_PUBLISH_TIMEOUT: env({ name: 'BUS_PUBLISH_TIMEOUT', group: 'Bus', schema: int(10, 120_000), default: '5000', unit: 'ms', description: 'Longest wait for the bus acknowledgement before /track answers 503 BUS_UNAVAILABLE.' }),
  BUS_MAX_REDELIVER: env({ name: 'BUS_MAX_REDELIVER', group: 'Bus', schema: int(1, 1000), default: '10', unit: 'deliveries', description: 'Deliveries of a message that keeps failing before it is dead-lettered.' }),
  PULSAR_MAX_REDELIVER: env({ name: 'PULSAR_MAX_REDELIVER', group: 'Pulsar', schema: int(1, 1000), default: undefined, unit: 'deliveries', description: 'With BUS_ADAPTER=pulsar: deliveries of a message that keeps failing before it goes to the dead-letter topic. Unset: BUS_MAX_REDELIVER.' }),
  BUS_NACK_DELAY: env({ name: 'BUS_NACK_DELAY', group: 'Bus', schema: int(0, 3_600_000), default: '1000', unit: 'ms', description: 'Delay before a negatively acknowledged message is delivered again.' }),
  BUS_SEGMENT_SIZE: env({ name: 'BUS_SEGMENT_SIZE', group: 'Bus', schema: int(64 * KiB, 4096 * MiB), default: String(64 * MiB), unit: 'bytes', description: 'Embedded log: size at which a segment file is closed; fully acknowledged segments are deleted.' }),
  BUS_FSYNC: env({ name: 'BUS_FSYNC', group: 'Bus', schema: bool(), default: 'true', unit: 'boolean', description: 'Embedded log: fdatasync each group commit before acknowledging (off survives a process crash, not a power loss).' }),

  PULSAR_HOST: env({ name: 'PULSAR_HOST', group: 'Pulsar', schema: url(['pulsar', 'pulsar+ssl']), default: 'pulsar://127.0.0.1:6650', unit: 'URL', description: 'Broker service URL (binary protocol), used by the native `pulsar-client` where it is installed.' }),
  PULSAR_WEB_HOST: env({ name: 'PULSAR_WEB_HOST', group: 'Pulsar', schema: url(['http', 'https']), default: 'http://127.0.0.1:8080', unit: 'URL', description: 'Broker (or proxy) web service URL: the WebSocket API (the tested transport) and the admin REST API.' }),
  PULSAR_TRANSPORT: env({ name: 'PULSAR_TRANSPORT', group: 'Pulsar', schema: oneOf(['auto', 'websocket', 'native']), default: 'auto', unit: 'mode', description: '`websocket`: the WebSocket API on PULSAR_WEB_HOST (no native library; the transport tested in CI). `native`: the optional `pulsar-client` binding on PULSAR_HOST (start fails where it does not load). `auto`: native where the binding loads, else WebSocket.' }),
  PULSAR_AUTH_TOKEN: env({ name: 'PULSAR_AUTH_TOKEN', group: 'Pulsar', schema: str(1, 8192), default: undefined, unit: 'JWT', description: 'Token authentication (sent as `Authorization: Bearer`). Unset: no authentication.', secret: true }),
  PULSAR_TENANT: env({ name: 'PULSAR_TENANT', group: 'Pulsar', schema: name(), default: 'public', unit: 'name', description: 'Tenant of Sluice\'s topics.' }),
  PULSAR_NAMESPACE: env({ name: 'PULSAR_NAMESPACE', group: 'Pulsar', schema: name(), default: 'sluice', unit: 'name', description: 'Namespace of Sluice\'s topics (created with its policies at start).' }),
  PULSAR_CLUSTER: env({ name: 'PULSAR_CLUSTER', group: 'Pulsar', schema: name(), default: 'standalone', unit: 'name', description: 'Cluster the tenant and namespace are allowed on when Sluice creates them.' }),
  PULSAR_TOPIC_PARTITIONS: env({ name: 'PULSAR_TOPIC_PARTITIONS', group: 'Pulsar', schema: int(1, 1024), default: '4', unit: 'partitions', description: 'Partitions of the events topic, created at start (an existing topic keeps its count).' }),
  PULSAR_RETENTION: env({ name: 'PULSAR_RETENTION', group: 'Pulsar', schema: int(0, 36_500), default: '30', unit: 'days', description: 'Namespace retention of acknowledged messages (Tracardi\'s guide: 30 days).' }),
  PULSAR_RETENTION_SIZE: env({ name: 'PULSAR_RETENTION_SIZE', group: 'Pulsar', schema: int(0, 1_048_576_000), default: '1024', unit: 'MB', description: 'Namespace retention size per topic (Tracardi\'s guide: 1 GB); the backlog quota (producers wait beyond it) is 90 % of it.' }),
  PULSAR_PRODUCER_BATCHING: env({ name: 'PULSAR_PRODUCER_BATCHING', group: 'Pulsar', schema: bool(), default: 'false', unit: 'boolean', description: 'Batch messages of concurrent requests at the producer. The WebSocket API cannot ack one message of a batch, so a partly acked batch is redelivered whole after a reconnect (duplicates the idempotent store absorbs).' }),
  PULSAR_COMPRESSION: env({ name: 'PULSAR_COMPRESSION', group: 'Pulsar', schema: oneOf(['NONE', 'LZ4', 'ZLIB', 'ZSTD', 'SNAPPY']), default: 'LZ4', unit: 'codec', description: 'Producer compression.' }),
  SPOOL_ENABLED: env({ name: 'SPOOL_ENABLED', group: 'Pulsar', schema: bool(), default: 'true', unit: 'boolean', description: 'With BUS_ADAPTER=pulsar: when the broker does not acknowledge within SPOOL_HANDOVER, write accepted events to a local durable spool under DATA_DIR and forward them when the broker is back.' }),
  SPOOL_HANDOVER: env({ name: 'SPOOL_HANDOVER', group: 'Pulsar', schema: int(10, 60_000), default: '1000', unit: 'ms', description: 'How long a publish waits for the broker before it goes to the spool (kept below BUS_PUBLISH_TIMEOUT).' }),
  SPOOL_MAX_SIZE: env({ name: 'SPOOL_MAX_SIZE', group: 'Pulsar', schema: int(1 * MiB, 1024 * 1024 * MiB), default: String(1024 * MiB), unit: 'bytes', description: 'Most bytes the spool holds; when full (and the broker is down) /track answers 503 BUS_UNAVAILABLE.' }),
  SPOOL_READY_THRESHOLD: env({ name: 'SPOOL_READY_THRESHOLD', group: 'Pulsar', schema: int(1, 100), default: '80', unit: '%', description: '/readyz fails once the spool is fuller than this, so a load balancer sends traffic elsewhere.' }),
  ELASTIC_HOST: env({ name: 'ELASTIC_HOST', group: 'Elasticsearch', schema: str(1, 4096), default: 'http://127.0.0.1:9200', unit: 'URLs', description: 'Comma-separated node URLs (http:// or https://).' }),
  ELASTIC_HTTP_AUTH_USERNAME: env({ name: 'ELASTIC_HTTP_AUTH_USERNAME', group: 'Elasticsearch', schema: str(1, 256), default: undefined, unit: 'name', description: 'Basic-auth user (with ELASTIC_HTTP_AUTH_PASSWORD). Unset: no basic auth.' }),
  ELASTIC_HTTP_AUTH_PASSWORD: env({ name: 'ELASTIC_HTTP_AUTH_PASSWORD', group: 'Elasticsearch', schema: str(1, 1024), default: undefined, unit: 'secret', description: 'Basic-auth password.', secret: true }),
  ELASTIC_API_KEY: env({ name: 'ELASTIC_API_KEY', group: 'Elasticsearch', schema: str(1, 4096), default: undefined, unit: 'secret', description: 'API key (base64 `id:key`), used instead of basic auth when set.', secret: true }),
  ELASTIC_CA_FILE: env({ name: 'ELASTIC_CA_FILE', group: 'Elasticsearch', schema: str(), default: undefined, unit: 'path', description: 'PEM file of the CA that signed the cluster\'s HTTP certificate.' }),
  ELASTIC_VERIFY_CERTS: env({ name: 'ELASTIC_VERIFY_CERTS', group: 'Elasticsearch', schema: bool(), default: 'true', unit: 'boolean', description: 'Check the cluster\'s TLS certificate (turn off only for tests).' }),
  ELASTIC_MAX_CONN: env({ name: 'ELASTIC_MAX_CONN', group: 'Elasticsearch', schema: int(1, 1000), default: '25', unit: 'connections', description: 'Most open connections per node.' }),
  ELASTIC_QUERY_TIMEOUT: env({ name: 'ELASTIC_QUERY_TIMEOUT', group: 'Elasticsearch', schema: int(100, 600_000), default: '30000', unit: 'ms', description: 'Request timeout; a timed-out bulk is retried by the worker.' }),
  ELASTIC_COMPRESSION: env({ name: 'ELASTIC_COMPRESSION', group: 'Elasticsearch', schema: bool(), default: 'true', unit: 'boolean', description: 'gzip request bodies (bulk writes).' }),
  ELASTIC_INDEX_SHARDS: env({ name: 'ELASTIC_INDEX_SHARDS', group: 'Elasticsearch', schema: int(1, 1024), default: '3', unit: 'shards', description: 'Primary shards of each new index (through the index templates).' }),
  ELASTIC_INDEX_REPLICAS: env({ name: 'ELASTIC_INDEX_REPLICAS', group: 'Elasticsearch', schema: int(0, 16), default: '1', unit: 'replicas', description: 'Replicas of each shard.' }),
  ELASTIC_REFRESH_INTERVAL: env({ name: 'ELASTIC_REFRESH_INTERVAL', group: 'Elasticsearch', schema: z.string().regex(/^(-1|\d+(ms|s|m))$/, 'a time such as 1s, 500ms or -1'), default: '1s', unit: 'time', description: 'How soon written events become searchable (the read API).' }),
  TENANT_NAME: env({ name: 'TENANT_NAME', group: 'Elasticsearch', schema: name(), default: undefined, unit: 'name', description: 'Prefix of every index, alias and template (`<tenant>-sluice-events`), for several tenants on one cluster.' }),

  ELASTIC_LIFECYCLE: env({ name: 'ELASTIC_LIFECYCLE', group: 'Elasticsearch lifecycle', schema: oneOf(['auto', 'ilm', 'sluice', 'off']), default: 'auto', unit: 'mode', description: 'Who moves event indices hot → warm → cold → delete. `ilm`: an ILM policy in the cluster. `sluice`: Sluice\'s lifecycle job (rollover, tier moves, forcemerge, delete), once across the cluster. `auto`: ILM where the cluster has it, else Sluice. `off`: nobody (rollover included).' }),
  ELASTIC_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: env({ name: 'ELASTIC_ROLLOVER_MAX_PRIMARY_SHARD_SIZE', group: 'Elasticsearch lifecycle', schema: size(), default: '30gb', unit: 'size', description: 'Roll the events write index over when its largest primary shard reaches this (Elastic: 10–50 GB per shard).' }),
  ELASTIC_ROLLOVER_MAX_AGE: env({ name: 'ELASTIC_ROLLOVER_MAX_AGE', group: 'Elasticsearch lifecycle', schema: duration('d'), default: '7d', unit: 'duration', description: 'Roll the events write index over when it is this old.' }),
  ELASTIC_ROLLOVER_MAX_DOCS: env({ name: 'ELASTIC_ROLLOVER_MAX_DOCS', group: 'Elasticsearch lifecycle', schema: int(1), default: '200000000', unit: 'documents', description: 'Roll the events write index over when it holds this many events.' }),
  ELASTIC_WARM_AFTER: env({ name: 'ELASTIC_WARM_AFTER', group: 'Elasticsearch lifecycle', schema: duration('d'), default: '7d', unit: 'duration', description: 'Time after rollover when an events index moves to warm nodes (read-only, force-merged). 0 skips the warm phase.' }),
  ELASTIC_COLD_AFTER: env({ name: 'ELASTIC_COLD_AFTER', group: 'Elasticsearch lifecycle', schema: duration('d'), default: '30d', unit: 'duration', description: 'Time after rollover when an events index moves to cold nodes. 0 skips the cold phase.' }),
  ELASTIC_FORCEMERGE_SEGMENTS: env({ name: 'ELASTIC_FORCEMERGE_SEGMENTS', group: 'Elasticsearch lifecycle', schema: int(0, 1024), default: '1', unit: 'segments', description: 'Segments per shard an index is force-merged to in warm (0: no force-merge).' }),
  ELASTIC_SNAPSHOT_REPOSITORY: env({ name: 'ELASTIC_SNAPSHOT_REPOSITORY', group: 'Elasticsearch snapshots', schema: name(), default: undefined, unit: 'name', description: 'Snapshot repository Sluice snapshots its indices into (SLM where the cluster has it, else Sluice\'s snapshot job). Unset: no snapshots.' }),
  ELASTIC_SNAPSHOT_REPOSITORY_TYPE: env({ name: 'ELASTIC_SNAPSHOT_REPOSITORY_TYPE', group: 'Elasticsearch snapshots', schema: oneOf(['existing', 'fs', 's3']), default: 'existing', unit: 'type', description: '`existing`: the repository is registered already (for example by the operator, with its credentials). `fs` or `s3`: Sluice registers it at init with ELASTIC_SNAPSHOT_LOCATION.' }),
  ELASTIC_SNAPSHOT_LOCATION: env({ name: 'ELASTIC_SNAPSHOT_LOCATION', group: 'Elasticsearch snapshots', schema: str(1, 1024), default: undefined, unit: 'path or bucket', description: '`fs`: a directory listed in every node\'s `path.repo`. `s3`: the bucket name.' }),
  ELASTIC_SNAPSHOT_INTERVAL: env({ name: 'ELASTIC_SNAPSHOT_INTERVAL', group: 'Elasticsearch snapshots', schema: duration('s'), default: '1d', unit: 'duration', description: 'How often a snapshot of Sluice\'s indices is taken.' }),
  ELASTIC_SNAPSHOT_KEEP: env({ name: 'ELASTIC_SNAPSHOT_KEEP', group: 'Elasticsearch snapshots', schema: int(1, 10_000), default: '30', unit: 'snapshots', description: 'Most recent successful snapshots kept; older ones are deleted.' }),

  REDIS_HOST: env({ name: 'REDIS_HOST', group: 'Redis', schema: url(['redis', 'rediss']), default: 'redis://127.0.0.1:6379', unit: 'URL', description: 'Redis URL (`redis://host:port/db`, `rediss://` for TLS), used by JOBS_ADAPTER=bullmq.' }),
  REDIS_PASSWORD: env({ name: 'REDIS_PASSWORD', group: 'Redis', schema: str(1, 1024), default: undefined, unit: 'secret', description: 'Redis password (AUTH). Unset: none.', secret: true }),

  STORAGE_BATCH_SIZE: env({ name: 'STORAGE_BATCH_SIZE', group: 'Storage worker', schema: int(1, 10_000), default: '500', unit: 'events', description: 'Events per store write; a batch is written when full or at STORAGE_FLUSH_INTERVAL.' }),
  STORAGE_CONCURRENCY: env({ name: 'STORAGE_CONCURRENCY', group: 'Storage worker', schema: int(1, 16), default: '2', unit: 'batches', description: 'Batches one worker writes at once (one batch\'s profile upserts overlap the next batch\'s bulk). Memory holds this many batches plus one filling.' }),
  STORAGE_FLUSH_INTERVAL: env({ name: 'STORAGE_FLUSH_INTERVAL', group: 'Storage worker', schema: int(1, 60_000), default: '1000', unit: 'ms', description: 'Longest time an event waits in a partial batch before it is written.' }),
  STORAGE_RETRY_BASE_DELAY: env({ name: 'STORAGE_RETRY_BASE_DELAY', group: 'Storage worker', schema: int(1, 60_000), default: '200', unit: 'ms', description: 'First retry delay after a retryable store failure; doubles each attempt, with jitter.' }),
  STORAGE_RETRY_MAX_DELAY: env({ name: 'STORAGE_RETRY_MAX_DELAY', group: 'Storage worker', schema: int(1, 600_000), default: '30000', unit: 'ms', description: 'Upper bound of one retry delay. The worker retries a stalled store without end, holding at most one batch.' }),

  EVENTS_RETENTION: env({ name: 'EVENTS_RETENTION', group: 'Storage worker', schema: duration('d'), default: '0', unit: 'days or duration', description: 'Events older than this are deleted by the lifecycle (bare digits are days; `12h`, `30s` also work; 0 keeps them forever). Elasticsearch: an events index is deleted this long after its rollover.' }),
  LIFECYCLE_INTERVAL: env({ name: 'LIFECYCLE_INTERVAL', group: 'Storage worker', schema: int(1, 604_800), default: '600', unit: 's', description: 'How often the lifecycle job (retention; with Sluice\'s Elasticsearch lifecycle also rollover, tier moves, forcemerge) runs, once across the cluster.' }),

  KEEP_PROFILE_IN_CACHE_FOR: env({ name: 'KEEP_PROFILE_IN_CACHE_FOR', group: 'Cache', schema: int(1, 31_536_000), default: '3600', unit: 's', description: 'How long a known profile id stays in the profile cache.' }),
  KEEP_SESSION_IN_CACHE_FOR: env({ name: 'KEEP_SESSION_IN_CACHE_FOR', group: 'Cache', schema: int(1, 31_536_000), default: '1800', unit: 's', description: 'How long a session → profile binding stays in the cache (sliding).' }),
  CACHE_MAX_ENTRIES: env({ name: 'CACHE_MAX_ENTRIES', group: 'Cache', schema: int(100, 100_000_000), default: '1000000', unit: 'entries', description: 'Embedded cache: most entries held in memory (least recently used go first).' }),
} as const;

export type SpecName = keyof typeof SPECS;
