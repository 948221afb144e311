import { closeAdapters, createAdapters, createRuntime, healthChecks, serveProbes, waitForInit } from '@sluice/wiring';
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
const probes = await serveProbes(runtime);
if (await waitForInit(runtime, probes.checks)) {
  const adapters = await createAdapters(runtime.config, runtime.logger, ['bus', 'store', 'jobs'], { metrics: runtime.metrics });
  Object.assign(probes.checks, healthChecks(adapters));
  scheduleJobs(runtime, adapters);
  runtime.shutdown.add('close engines', () => closeAdapters(adapters));
  runtime.logger.warn({ url: probes.url }, 'sluice jobs running; /healthz, /readyz and /metrics served');
}
runtime.shutdown.add('probes: close', () => probes.close());
