import { startApi } from '@sluice/api';
import { scheduleJobs } from '@sluice/jobs-app';
import { exitOnSignals } from '@sluice/observability';
import { startWorker } from '@sluice/worker';
import { closeAdapters, createAdapters, createRuntime, healthChecks } from '@sluice/wiring';
import type { HealthCheck } from '@sluice/observability';

/**
 * The all-in-one process: API, storage worker and jobs on one set of adapters.
 * Shutdown order: stop accepting HTTP → drain and flush the worker → finish jobs → close engines.
 */
export async function startAllInOne(): Promise<void> {
  const runtime = createRuntime('sluice');
  const adapters = await createAdapters(runtime.config, runtime.logger, ['bus', 'store', 'cache', 'configStore', 'jobs'], { publisher: true });
  // The API starts first (its shutdown step must run first); the worker's check joins
  // /readyz once the worker exists.
  const checks: Record<string, HealthCheck> = { ...healthChecks(adapters) };
  const { url } = await startApi(runtime, adapters, checks);
  checks['worker'] = await startWorker(runtime, adapters);
  scheduleJobs(runtime, adapters);
  runtime.shutdown.add('close engines', () => closeAdapters(adapters));
  exitOnSignals(runtime.shutdown, runtime.logger);
  process.stdout.write(`sluice is running at ${url} (data in ${runtime.config.dataDir}); Ctrl-C stops it\n`);
}
