import { exitOnSignals, type HealthCheck, startOpsServer } from '@sluice/observability';
import { closeAdapters, createAdapters, createRuntime, healthChecks, waitForInit } from '@sluice/wiring';
// The storage worker's probe server: /healthz, /readyz, /metrics.
import { scheduleJobs } from './index.ts';

/**
 * Composition root of `sluice jobs`: the maintenance jobs alone — the store's lifecycle
 * (retention; rollover, tier moves, forcemerge and index deletion in Elasticsearch without
 * ILM), snapshots (without SLM), and the dead-letter replay. These create and delete
 * indices, so they run here, with the `sluice_maintainer` role (deploy/elasticsearch/roles.yml),
 * and not in the storage workers. Any number of replicas: with JOBS_ADAPTER=bullmq each run
 * happens once across them (with the embedded scheduler, run one). It provisions nothing:
 * it waits for `sluice init` like the other replicas.
 */
const runtime = createRuntime('sluice-jobs');
const { config, logger, metrics, shutdown } = runtime;
let draining = false;
shutdown.add('ops: report not ready', () => {
  draining = true;
});
const checks: Record<string, HealthCheck> = {};
const ops = await startOpsServer({ host: config.http.host, port: config.http.port, checks, metrics, logger, isDraining: () => draining, adminToken: config.http.adminToken });
exitOnSignals(shutdown, logger);
if (await waitForInit(runtime, checks)) {
  const adapters = await createAdapters(config, logger, ['bus', 'store', 'jobs']);
  Object.assign(checks, healthChecks(adapters));
  scheduleJobs(runtime, adapters);
  shutdown.add('close engines', () => closeAdapters(adapters));
  logger.warn({ url: ops.url }, 'sluice jobs running; /healthz, /readyz and /metrics served');
}
shutdown.add('ops: close the endpoints', () => new Promise<void>((resolve) => ops.server.close(() => resolve())));
