import type { Config } from '@sluice/config';
import { ElasticStore } from '@sluice/store';

/** The Elasticsearch store of this configuration (one client; it connects on first use). */
export function elasticStore(config: Config): ElasticStore {
  const elastic = config.elastic;
  return new ElasticStore({
    nodes: elastic.nodes,
    ...(elastic.username === undefined ? {} : { username: elastic.username }),
    ...(elastic.password === undefined ? {} : { password: elastic.password }),
    ...(elastic.apiKey === undefined ? {} : { apiKey: elastic.apiKey }),
    ...(elastic.caFile === undefined ? {} : { caFile: elastic.caFile }),
    verifyCerts: elastic.verifyCerts,
    maxConnections: elastic.maxConnections,
    requestTimeoutMs: elastic.requestTimeoutMs,
    compression: elastic.compression,
    prefix: elastic.prefix,
    shards: elastic.shards,
    replicas: elastic.replicas,
    refreshInterval: elastic.refreshInterval,
    lifecycle: config.elasticLifecycle,
    ...(config.snapshots.enabled ? { snapshots: { repository: config.snapshots.repository, type: config.snapshots.type, ...(config.snapshots.location === undefined ? {} : { location: config.snapshots.location }), intervalMs: config.snapshots.intervalMs, keep: config.snapshots.keep } } : {}),
  });
}
