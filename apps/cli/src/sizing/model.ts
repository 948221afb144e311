// The sizing model of `sluice size`: a peak load and a retention in, resources out. Every
// per-event cost is a measured coefficient (sizing/results.ts, from `npm run load:capacity`);
// the only constants here are operating margins, each named and explained. Every output is
// a non-decreasing function of the load, so more load never asks for fewer resources.
import type { Coefficients } from './results.ts';

export interface SizeInput {
  /** Peak events per second the deployment must take. */
  readonly eventsPerSecond: number;
  /** Average bytes of one event as clients send it (stored and bus bytes scale with it). */
  readonly eventBytes: number;
  /** Days events are kept (EVENTS_RETENTION). */
  readonly retentionDays: number;
  /** Days after rollover an index moves to warm nodes (ELASTIC_WARM_AFTER); 0: no warm tier. */
  readonly warmAfterDays: number;
  /** Days after rollover an index moves to cold nodes (ELASTIC_COLD_AFTER); 0: no cold tier. */
  readonly coldAfterDays: number;
  /** Replicas of each Elasticsearch shard (ELASTIC_INDEX_REPLICAS). */
  readonly replicas: number;
  /** Days Pulsar keeps acknowledged messages (PULSAR_RETENTION). */
  readonly busRetentionDays: number;
  /** Copies of each Pulsar entry on bookies (the write quorum). */
  readonly busCopies: number;
  /** CPU cores of one API replica / storage worker / Elasticsearch data node. */
  readonly apiCores: number;
  readonly workerCores: number;
  readonly nodeCores: number;
  /** Disk of one Elasticsearch data node, in bytes. */
  readonly nodeDiskBytes: number;
  /** Events of one visitor session on average (sessions are what the cache holds). */
  readonly eventsPerSession: number;
  /** KEEP_SESSION_IN_CACHE_FOR and KEEP_PROFILE_IN_CACHE_FOR, in seconds. */
  readonly sessionTtlSeconds: number;
  readonly profileTtlSeconds: number;
  /** MYSQL_POOL_SIZE and MYSQL_POOL_MAX_OVERFLOW of each process. */
  readonly poolSize: number;
  readonly poolOverflow: number;
}

export interface Tier {
  /** Days of events the tier holds. */
  readonly days: number;
  /** Disk of the tier, replicas and watermark headroom included, in bytes. */
  readonly diskBytes: number;
  readonly dataNodes: number;
}

export interface Sizing {
  readonly apiReplicas: number;
  readonly workers: number;
  readonly partitions: number;
  /** Pulsar storage for the retention, every copy, in bytes. */
  readonly busStorageBytes: number;
  /**
   * Bytes one hour of events takes on the bus (one copy): how fast the backlog grows while the
   * store is away. PULSAR_RETENTION_SIZE holds the hours of outage to ride out times this.
   */
  readonly busBytesPerHour: number;
  /** Primary shards of each (daily) events index; ELASTIC_ROLLOVER_MAX_AGE=1d is assumed. */
  readonly primaryShards: number;
  /** Primary bytes of one day of events. */
  readonly dailyPrimaryBytes: number;
  readonly hot: Tier;
  readonly warm: Tier;
  readonly cold: Tier;
  /** Redis memory for the session bindings and profile entries, headroom included, in bytes. */
  readonly redisMemoryBytes: number;
  /** MySQL connections all processes may open at once (pool + overflow each). */
  readonly mysqlConnections: number;
  /** The max_connections to give the MySQL server (the above with room for admin and upgrades). */
  readonly mysqlMaxConnections: number;
}

/** Share of their CPU that processes are sized to use at peak: room for bursts, GC and a lost replica. */
export const CPU_UTILISATION = 0.6;
/** Elasticsearch stops allocating shards to a node past its 85 % disk watermark. */
export const DISK_WATERMARK = 0.85;
/** Target size of one primary shard (Elastic: 10–50 GB; ELASTIC_ROLLOVER_MAX_PRIMARY_SHARD_SIZE's default). */
export const SHARD_BYTES = 30 * 1024 ** 3;
/** Redis memory headroom: fragmentation and the replica's output buffers. */
export const REDIS_HEADROOM = 1.5;
/** At least two of each replica kind: one can be lost or rolled at a time. */
export const MIN_REPLICAS = 2;
/** At least four partitions, so that workers can be added without re-partitioning at once. */
export const MIN_PARTITIONS = 4;
/** Processes besides API replicas and workers that hold a MySQL pool: jobs (two) and init. */
export const OTHER_MYSQL_CLIENTS = 3;

const DAY_SECONDS = 86_400;

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

function tier(days: number, dailyPrimaryBytes: number, replicas: number, nodeDiskBytes: number, minNodes: number): Tier {
  if (days <= 0) return { days: 0, diskBytes: 0, dataNodes: 0 };
  const diskBytes = Math.ceil((dailyPrimaryBytes * days * (1 + replicas)) / DISK_WATERMARK);
  return { days, diskBytes, dataNodes: Math.max(minNodes, Math.ceil(diskBytes / nodeDiskBytes)) };
}

/** The resources `input` needs, with the per-event costs of `coefficients`. */
export function size(input: SizeInput, coefficients: Coefficients): Sizing {
  const eps = input.eventsPerSecond;
  const byteScale = input.eventBytes / coefficients.eventBytes;
  const apiReplicas = Math.max(MIN_REPLICAS, Math.ceil((eps * coefficients.apiCpuSecondsPerEvent) / (input.apiCores * CPU_UTILISATION)));
  const workers = Math.max(MIN_REPLICAS, Math.ceil((eps * coefficients.workerCpuSecondsPerEvent) / (input.workerCores * CPU_UTILISATION)));
  const partitions = nextPowerOfTwo(Math.max(MIN_PARTITIONS, workers));
  const busBytesPerHour = Math.ceil(eps * 3600 * coefficients.busBytesPerEvent * byteScale);
  const busStorageBytes = Math.ceil(eps * DAY_SECONDS * input.busRetentionDays * coefficients.busBytesPerEvent * byteScale * input.busCopies);
  const dailyPrimaryBytes = Math.ceil(eps * DAY_SECONDS * coefficients.storedBytesPerEvent * byteScale);
  const primaryShards = Math.max(1, Math.ceil(dailyPrimaryBytes / SHARD_BYTES));
  // An index is written for a day (rollover), then stays hot until warmAfter, warm until
  // coldAfter, cold until the retention deletes it; a skipped phase passes its days on.
  const retention = input.retentionDays;
  const hotEnd = Math.min(retention, 1 + (input.warmAfterDays > 0 ? input.warmAfterDays : input.coldAfterDays > 0 ? input.coldAfterDays : retention));
  const warmEnd = input.warmAfterDays > 0 ? Math.min(retention, 1 + (input.coldAfterDays > 0 ? input.coldAfterDays : retention)) : hotEnd;
  // Hot nodes also index: enough cores for every copy of every event, and each shard copy on its own node.
  const indexingNodes = Math.ceil((eps * coefficients.elasticsearchCpuSecondsPerEvent * (1 + input.replicas)) / (input.nodeCores * CPU_UTILISATION));
  const hot = tier(hotEnd, dailyPrimaryBytes, input.replicas, input.nodeDiskBytes, Math.max(input.replicas + 1, indexingNodes));
  const warm = tier(warmEnd - hotEnd, dailyPrimaryBytes, input.replicas, input.nodeDiskBytes, input.replicas + 1);
  const cold = tier(retention - warmEnd, dailyPrimaryBytes, input.replicas, input.nodeDiskBytes, input.replicas + 1);
  // The cache holds a binding per live session and an entry per profile seen within its TTL.
  const sessionsPerSecond = eps / input.eventsPerSession;
  const keys = sessionsPerSecond * (input.sessionTtlSeconds + input.profileTtlSeconds);
  const redisMemoryBytes = Math.ceil(keys * coefficients.redisBytesPerKey * REDIS_HEADROOM);
  const mysqlConnections = (apiReplicas + workers + OTHER_MYSQL_CLIENTS) * (input.poolSize + input.poolOverflow);
  return {
    apiReplicas,
    workers,
    partitions,
    busStorageBytes,
    busBytesPerHour,
    primaryShards,
    dailyPrimaryBytes,
    hot,
    warm,
    cold,
    redisMemoryBytes,
    mysqlConnections,
    mysqlMaxConnections: Math.ceil(mysqlConnections * 1.5) + 10,
  };
}
