// What a capacity run reads from the running stack besides the load generator's own figures:
// the storage backlog, the end-to-end latency the workers observed, and the per-event costs
// (CPU, bytes on disk, cache memory) that `sluice size` multiplies.
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { elasticAsSuperuser, engineEnv } from '@sluice/testkit';

const pulsarWeb = () => engineEnv('pulsar')['PULSAR_WEB_HOST']!;

/** Messages waiting on the storage subscription of `namespace`'s events topic. */
export async function storageBacklog(namespace: string): Promise<number> {
  const response = await fetch(`${pulsarWeb()}/admin/v2/persistent/public/${namespace}/events/partitioned-stats`);
  if (!response.ok) throw new Error(`Pulsar stats of ${namespace}: HTTP ${String(response.status)}`);
  const stats = (await response.json()) as { subscriptions?: Record<string, { msgBacklog?: number }> };
  return stats.subscriptions?.['storage']?.msgBacklog ?? 0;
}

/** Bytes the events topic of `namespace` holds (one copy). */
export async function busStorageBytes(namespace: string): Promise<number> {
  const response = await fetch(`${pulsarWeb()}/admin/v2/persistent/public/${namespace}/events/partitioned-stats`);
  const stats = (await response.json()) as { storageSize?: number };
  return stats.storageSize ?? 0;
}

/**
 * A quantile of a Prometheus histogram summed over several processes' /metrics (`urls`),
 * by linear interpolation within the bucket, in the metric's unit; NaN when nothing was observed.
 */
export async function histogramQuantile(urls: readonly string[], metric: string, quantile: number): Promise<number> {
  const buckets = new Map<number, number>();
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const match of text.matchAll(new RegExp(`^${metric}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm'))) {
      const bound = match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]);
      buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[2]));
    }
  }
  const sorted = [...buckets.entries()].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = quantile * total;
  let previous: [number, number] = [0, 0];
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return previous[0];
      return previous[0] + ((bound - previous[0]) * (rank - previous[1])) / Math.max(1, count - previous[1]);
    }
    previous = [bound, count];
  }
  return previous[0];
}

/** Documents and primary store bytes of the run's event indices (after a refresh). */
export async function storedBytes(indexPrefix: string): Promise<{ documents: number; bytes: number }> {
  const pattern = `${indexPrefix}sluice-events*`;
  await elasticAsSuperuser('POST', `/${pattern}/_refresh`);
  const stats = (await elasticAsSuperuser('GET', `/${pattern}/_stats/docs,store`)) as { _all?: { primaries?: { docs?: { count?: number }; store?: { size_in_bytes?: number } } } };
  return { documents: stats._all?.primaries?.docs?.count ?? 0, bytes: stats._all?.primaries?.store?.size_in_bytes ?? 0 };
}

/** Keys sampled for their memory. */
const REDIS_SAMPLE_KEYS = 2000;

/**
 * Bytes of Redis memory per key of the run's own (under `keyPrefix`): the mean `MEMORY USAGE`
 * of up to REDIS_SAMPLE_KEYS of them (key, value, and the allocator's and dictionary's share).
 * Not used_memory's growth over the run: on an engine that earlier runs used, their keys
 * expire meanwhile and take that growth to zero or below.
 */
export async function redisBytesPerKey(keyPrefix: string): Promise<number> {
  const env = engineEnv('redis');
  const redis = new Redis(env['REDIS_HOST']!, { password: env['REDIS_PASSWORD'] });
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${keyPrefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      keys.push(...batch);
      if (keys.length >= REDIS_SAMPLE_KEYS) break;
    }
    if (keys.length === 0) throw new Error(`no Redis keys under ${keyPrefix}: the run cached nothing`);
    const sample = keys.slice(0, REDIS_SAMPLE_KEYS);
    const pipeline = redis.pipeline();
    for (const key of sample) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const sizes = ((await pipeline.exec()) ?? []).map(([, bytes]) => Number(bytes)).filter((bytes) => bytes > 0);
    return sizes.reduce((sum, bytes) => sum + bytes, 0) / sizes.length;
  } finally {
    redis.disconnect();
  }
}

/** The versions of the engines the run used. */
export async function engineVersions(): Promise<Record<string, string>> {
  const es = (await elasticAsSuperuser('GET', '/_cluster/stats?filter_path=nodes.versions')) as { nodes?: { versions?: string[] } };
  const pulsar = await (await fetch(`${pulsarWeb()}/admin/v2/brokers/version`)).text();
  const env = engineEnv('redis');
  const redis = new Redis(env['REDIS_HOST']!, { password: env['REDIS_PASSWORD'] });
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  redis.disconnect();
  const db = engineEnv('mariadb');
  const connection = await createConnection({ host: db['MYSQL_HOST']!, port: Number(db['MYSQL_PORT']), user: db['MYSQL_USERNAME']!, password: db['MYSQL_PASSWORD']! });
  const [rows] = await connection.query('SELECT VERSION() AS version');
  await connection.end();
  return { node: process.version, elasticsearch: es.nodes?.versions?.join(', ') ?? 'unknown', pulsar: pulsar.replaceAll('"', '').trim(), redis: redisVersion, mariadb: String((rows as { version: string }[])[0]?.version ?? 'unknown') };
}
