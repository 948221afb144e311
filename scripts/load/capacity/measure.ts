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

/**
 * Bytes of Redis memory per key: `MEMORY STATS`' `keys.bytes-per-key`, the server's memory
 * less its start-up overhead over all its keys. So it counts each key with its value, expiry
 * and dictionary entries, and also the server's buffers, scripts and any other keys: on the
 * engines' Redis after a capacity run, nearly all of them the runs' session and profile
 * keys, and the rest small. Not used_memory's growth over the run: on an engine that earlier
 * runs used, their keys expire meanwhile and take that growth to zero or below; and not
 * `MEMORY USAGE` of the run's keys, which leaves out the expiry entry (a third less).
 */
export async function redisBytesPerKey(): Promise<number> {
  const env = engineEnv('redis');
  const redis = new Redis(env['REDIS_HOST']!, { password: env['REDIS_PASSWORD'] });
  try {
    const stats = (await redis.call('MEMORY', 'STATS')) as unknown[];
    const at = stats.indexOf('keys.bytes-per-key');
    const bytes = Number(stats[at + 1]);
    if (at < 0 || !(bytes > 0)) throw new Error('Redis reports no bytes per key: the run cached nothing');
    return bytes;
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
