import { Redis } from 'ioredis';
import { redisConnectionOptions, type RedisConnectionConfig } from './connection.ts';

/** What one Redis server says of itself: its identity and its eviction policy. */
export interface RedisServerFacts {
  /** INFO server `run_id`: equal for two connections to one server (whatever URL or db reached it). */
  readonly runId: string;
  /** `maxmemory-policy`; undefined when the server tells neither by CONFIG GET nor by INFO. */
  readonly maxmemoryPolicy: string | undefined;
}

/**
 * Asks a server who it is and how it evicts, over a short-lived connection that does not
 * retry. `CONFIG GET` first; a server that forbids CONFIG (managed Redis, ACLs, a renamed
 * command) still reports the policy in `INFO memory`.
 */
export async function inspectRedisServer(connection: RedisConnectionConfig, timeoutMs: number): Promise<RedisServerFacts> {
  const redis = new Redis({
    ...redisConnectionOptions(connection),
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    connectionName: 'sluice-inspect',
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const runId = infoField(await redis.info('server'), 'run_id');
    if (runId === undefined) throw new Error('INFO server has no run_id');
    return { runId, maxmemoryPolicy: await maxmemoryPolicy(redis) };
  } finally {
    redis.disconnect();
  }
}

async function maxmemoryPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const [, value] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (value !== undefined) return value;
  } catch {
    // CONFIG forbidden: INFO below.
  }
  return infoField(await redis.info('memory'), 'maxmemory_policy');
}

function infoField(info: string, field: string): string | undefined {
  const line = info.split('\r\n').find((candidate) => candidate.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim();
}

/**
 * The warning to give at start when the cache and BullMQ's jobs live on one Redis server
 * whose policy may evict keys (BullMQ then loses jobs and locks), else undefined.
 */
export async function sharedEvictingServerWarning(cache: RedisConnectionConfig, jobs: RedisConnectionConfig, timeoutMs: number): Promise<string | undefined> {
  const [cacheServer, jobsServer] = await Promise.all([inspectRedisServer(cache, timeoutMs), inspectRedisServer(jobs, timeoutMs)]);
  if (cacheServer.runId !== jobsServer.runId) return undefined;
  const policy = cacheServer.maxmemoryPolicy;
  if (policy === 'noeviction') return undefined;
  return policy === undefined
    ? 'the cache and the jobs share one Redis server whose maxmemory-policy could not be read: BullMQ needs noeviction; set JOBS_REDIS_HOST to a Redis of their own'
    : `the cache and the jobs share one Redis server with maxmemory-policy ${policy}: it may evict BullMQ's keys (lost jobs and locks); set JOBS_REDIS_HOST to a Redis with noeviction`;
}
