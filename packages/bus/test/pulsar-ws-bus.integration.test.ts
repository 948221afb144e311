import { PulsarWsBus } from '../src/index.ts';
import { runEventBusConformance } from '../src/conformance.ts';
import { engineEnv, randomName } from '@sluice/testkit';

// Every context gets its own namespace on the real broker (npm run engines:up -- pulsar).
const env = engineEnv('pulsar');
const web = env['PULSAR_WEB_HOST']!;

runEventBusConformance('pulsar', async () => {
  const namespace = randomName('conformance-');
  const created = await fetch(`${web}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' });
  if (created.status !== 204) throw new Error(`cannot create namespace public/${namespace}: HTTP ${String(created.status)}`);
  return {
    open: async () => new PulsarWsBus({ webServiceUrl: web, tenant: 'public', namespace, topics: { events: 'events', 'dead-letters': 'dead-letters' }, sendTimeoutMs: 10_000 }),
    cleanup: async () => {
      await fetch(`${web}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' });
    },
  };
});
