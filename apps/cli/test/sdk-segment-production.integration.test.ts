// The Segment-protocol SDKs against Sluice on the production topology — BUS_ADAPTER=pulsar,
// CACHE_ADAPTER=redis, STORE_ADAPTER=elasticsearch (the engines `npm run engines:up` runs) —
// the same suite as on the embedded `sluice start` (sdk-segment-suite.ts), plus: after the
// cache is flushed the profiles still show their ids and merges (the store is the truth).
// One all-in-one process keeps it quick; the replicas' split is shared-identity's subject.
import { Redis } from 'ioredis';
import { ElasticStore } from '@sluice/store';
import { engineEnv, randomName, startSluice, tempDir } from '@sluice/testkit';
import { SDK_ADMIN_TOKEN, runSdkSuite } from './sdk-segment-suite.ts';

runSdkSuite('Pulsar, Redis and Elasticsearch', async () => {
  const pulsar = engineEnv('pulsar');
  const es = engineEnv('elasticsearch');
  const redis = engineEnv('redis');
  const namespace = randomName('sdk-');
  const tenant = randomName('sdk');
  const data = await tempDir('sluice-sdk-prod-');
  const sluice = await startSluice('start', {
    ...es, ...redis, DATA_DIR: data.dir, ADMIN_TOKEN: SDK_ADMIN_TOKEN, LOGGING_LEVEL: 'error', DEMO_SOURCE: 'false', STORAGE_FLUSH_INTERVAL: '100',
    BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: pulsar['PULSAR_WEB_HOST']!, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '1',
    CACHE_ADAPTER: 'redis',
    STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_SHARDS: '1', ELASTIC_INDEX_REPLICAS: '0', ELASTIC_REFRESH_INTERVAL: '100ms',
  }, 90_000);
  const cache = new Redis(redis['REDIS_HOST']!, { password: redis['REDIS_PASSWORD'], lazyConnect: true });
  /** Every cache key of this Sluice starts with `<tenant>-sluice:cache:`; other tests share the Redis, so only these go. */
  const flushCache = async (): Promise<number> => {
    if (cache.status === 'wait') await cache.connect();
    let deleted = 0;
    for await (const keys of cache.scanStream({ match: `${tenant}-sluice:cache:*`, count: 500 }) as AsyncIterable<string[]>) if (keys.length > 0) deleted += await cache.del(...keys);
    return deleted;
  };
  return {
    url: sluice.url,
    flushCache,
    stop: async () => {
      await sluice.stop();
      await flushCache().catch(() => undefined);
      cache.disconnect();
      await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' }).catch(() => undefined);
      const store = new ElasticStore({ nodes: [es['ELASTIC_HOST']!], username: es['ELASTIC_HTTP_AUTH_USERNAME']!, password: es['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: es['ELASTIC_CA_FILE']!, verifyCerts: true, maxConnections: 1, requestTimeoutMs: 30_000, compression: false, prefix: `${tenant}-`, shards: 1, replicas: 0, refreshInterval: '1s' });
      await store.dropAll();
      await store.close();
      await data.cleanup();
    },
  };
});
