import { scheduleJobs } from '@sluice/jobs-app';
import { exitOnSignals } from '@sluice/observability';
import { closeAdapters, createAdapters, createRuntime, healthChecks } from '@sluice/wiring';
import { startOpsServer } from './ops-server.ts';
import { startWorker } from './start.ts';

/** Composition root of the storage worker alone (production: M replicas on a shared subscription). */
const runtime = createRuntime('sluice-worker');
const adapters = await createAdapters(runtime.config, runtime.logger, ['bus', 'store', 'jobs']);
let draining = false;
runtime.shutdown.add('ops: report not ready', async () => {
  draining = true;
});
const worker = await startWorker(runtime, adapters);
// The workers also run the background jobs (lifecycle, dead-letter replay): with
// JOBS_ADAPTER=bullmq each run happens in one of them.
scheduleJobs(runtime, adapters);
const ops = await startOpsServer({ host: runtime.config.http.host, port: runtime.config.http.port, checks: { ...healthChecks(adapters), worker }, metrics: runtime.metrics, logger: runtime.logger, isDraining: () => draining });
runtime.logger.warn({ url: ops.url }, 'sluice worker running; /healthz, /readyz and /metrics served');
runtime.shutdown.add('close engines', () => closeAdapters(adapters));
runtime.shutdown.add('ops: close the endpoints', () => new Promise<void>((resolve) => ops.server.close(() => resolve())));
exitOnSignals(runtime.shutdown, runtime.logger);
