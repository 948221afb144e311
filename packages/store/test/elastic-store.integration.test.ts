// The EventStore contract on the real, secured Elasticsearch node (basic auth, TLS with the
// provisioned CA): npm run engines:up -- elasticsearch.
import { ElasticStore } from '../src/index.ts';
import { runEventStoreConformance } from '../src/conformance.ts';
import { engineEnv, randomName } from '@sluice/testkit';

const env = engineEnv('elasticsearch');

runEventStoreConformance('elasticsearch', async () => {
  const prefix = `${randomName('conf')}-`;
  const store = new ElasticStore({
    nodes: env['ELASTIC_HOST']!.split(','),
    username: env['ELASTIC_HTTP_AUTH_USERNAME']!,
    password: env['ELASTIC_HTTP_AUTH_PASSWORD']!,
    caFile: env['ELASTIC_CA_FILE']!,
    verifyCerts: true,
    maxConnections: 10,
    requestTimeoutMs: 30_000,
    compression: true,
    prefix,
    shards: 1,
    replicas: 0,
    refreshInterval: '1s',
    refreshOnWrite: true,
  });
  await store.init();
  return {
    store,
    cleanup: async () => {
      const admin = new ElasticStore({ nodes: env['ELASTIC_HOST']!.split(','), username: env['ELASTIC_HTTP_AUTH_USERNAME']!, password: env['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: env['ELASTIC_CA_FILE']!, verifyCerts: true, maxConnections: 1, requestTimeoutMs: 30_000, compression: false, prefix, shards: 1, replicas: 0, refreshInterval: '1s' });
      await admin.dropAll();
      await admin.close();
    },
  };
});
