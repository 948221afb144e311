// Which Pulsar transport runs: the native binding where it loads (PULSAR_TRANSPORT=auto),
// else the WebSocket API; `native` insists and fails the start with the reason.
import { describe, expect, it } from '@jest/globals';
import { loadNativePulsar } from '@sluice/bus';
import { loadConfig } from '@sluice/config';
import { createLogger } from '@sluice/observability';
import { closeAdapters, createAdapters, initEngines } from '../src/index.ts';
import { engineEnv, randomName, tempDir } from '@sluice/testkit';

const pulsar = engineEnv('pulsar');

describe('PULSAR_TRANSPORT', () => {
  it('auto: runs on the WebSocket API where the binding does not load; native: refuses to start', async () => {
    const native = await loadNativePulsar();
    const { dir, cleanup } = await tempDir();
    try {
    const namespace = randomName('transport-');
      const env = { BUS_ADAPTER: 'pulsar', PULSAR_HOST: pulsar['PULSAR_HOST'], PULSAR_WEB_HOST: pulsar['PULSAR_WEB_HOST'], PULSAR_NAMESPACE: namespace, DATA_DIR: dir };
      // The namespace and topics are `sluice init`'s; the bus adapter creates none.
      await initEngines(loadConfig(env), createLogger('error'));
      const adapters = await createAdapters(loadConfig({ ...env, PULSAR_TRANSPORT: 'auto' }), createLogger('error'), ['bus']);
      try {
        const health = await adapters.bus.health();
        expect(health).toMatchObject({ ok: true, detail: { transport: 'module' in native ? 'native' : 'websocket' } });
      } finally {
        await closeAdapters(adapters);
      }
      if ('error' in native) {
        await expect(createAdapters(loadConfig({ ...env, PULSAR_TRANSPORT: 'native' }), createLogger('error'), ['bus'])).rejects.toThrow(/PULSAR_TRANSPORT=native but the pulsar-client binding does not load/);
      }
      await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' });
    } finally {
      await cleanup();
    }
  });
});
