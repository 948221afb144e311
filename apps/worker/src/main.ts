import { exitOnSignals, type HealthCheck, startOpsServer } from '@sluice/observability';
import { closeAdapters, createAdapters, createRuntime, healthChecks, waitForInit } from '@sluice/wiring';
import { startWorker } from './start.ts';

/**
 * Composition root of the storage worker alone (production: M replicas on a shared
 * subscription). It provisions nothing and runs no maintenance job (that is `sluice jobs`):
 * it serves its probes at once, waits for `sluice init` (not ready until then), then
 * consumes. Its Elasticsearch role can write documents but not create or delete indices.
 */
const runtime = createRuntime('sluice-worker');
const { config, logger, metrics, shutdown } = runtime;
let draining = false;
shutdown.add('ops: report not ready', () => {
  draining = true;
});
const checks: Record<string, HealthCheck> = {};
const ops = await startOpsServer({ host: config.http.host, port: config.http.port, checks, metrics, logger, isDraining: () => draining, adminToken: config.http.adminToken });
exitOnSignals(shutdown, logger);
if (await waitForInit(runtime, checks)) {
  const adapters = await createAdapters(config, logger, ['bus', 'store']);
  Object.assign(checks, healthChecks(adapters));
  checks['worker'] = await startWorker(runtime, adapters);
  shutdown.add('close engines', () => closeAdapters(adapters));
  logger.warn({ url: ops.url }, 'sluice worker running; /healthz, /readyz and /metrics served');
}
shutdown.add('ops: close the endpoints', () => new Promise<void>((resolve) => ops.server.close(() => resolve())));
