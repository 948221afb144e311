import { closeAdapters, createAdapters, createRuntime, healthChecks, serveProbes, waitForInit } from '@sluice/wiring';
import { startWorker } from './start.ts';

/**
 * Composition root of the storage worker alone (production: M replicas on one subscription,
 * each partition read by one of them). It provisions nothing and runs no maintenance job (that is `sluice jobs`):
 * it serves its probes at once, waits for `sluice init` (not ready until then), then
 * consumes. Its Elasticsearch role can write documents but not create or delete indices.
 */
const runtime = createRuntime('sluice-worker');
const probes = await serveProbes(runtime);
if (await waitForInit(runtime, probes.checks)) {
  const adapters = await createAdapters(runtime.config, runtime.logger, ['bus', 'store'], { metrics: runtime.metrics });
  Object.assign(probes.checks, healthChecks(adapters));
  probes.checks['worker'] = await startWorker(runtime, adapters);
  runtime.shutdown.add('close engines', () => closeAdapters(adapters));
  runtime.logger.warn({ url: probes.url }, 'sluice worker running; /healthz, /readyz and /metrics served');
}
runtime.shutdown.add('probes: close', () => probes.close());
