// The native transport passes the same suite as the WebSocket one, where `pulsar-client`
// loads. Its binary comes from a host these machines cannot reach, so here the suite is
// reported as skipped and the WebSocket transport is the tested one.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { PulsarNativeBus, type NativePulsarModule } from '../src/index.ts';
import { runEventBusConformance } from '../src/conformance.ts';
import { engineEnv, randomName } from '@sluice/testkit';

const env = engineEnv('pulsar');
const web = env['PULSAR_WEB_HOST']!;
// The binding is CommonJS: a synchronous require tells whether it loads (the adapter's own
// loader is asynchronous, and Jest collects suites synchronously).
function loadBinding(): { module: NativePulsarModule } | { error: string } {
  try {
    return { module: createRequire(join(process.cwd(), 'package.json'))('pulsar-client') as NativePulsarModule };
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] ?? 'cannot load' };
  }
}
const loaded = loadBinding();

if ('module' in loaded) {
  const pulsar = loaded.module;
  runEventBusConformance('pulsar-native', async () => {
    const namespace = randomName('native-');
    const created = await fetch(`${web}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' });
    if (created.status !== 204) throw new Error(`cannot create namespace public/${namespace}: HTTP ${String(created.status)}`);
    return {
      open: async () => new PulsarNativeBus(pulsar, { serviceUrl: env['PULSAR_HOST']!, tenant: 'public', namespace, topics: { events: 'events', 'dead-letters': 'dead-letters' }, sendTimeoutMs: 10_000 }),
      cleanup: async () => {
        await fetch(`${web}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' });
      },
    };
  });
} else {
  describe('EventBus conformance: pulsar-native', () => {
    it.skip(`skipped: pulsar-client does not load here (${loaded.error})`, () => undefined);
  });
}
