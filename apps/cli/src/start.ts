import { startApi } from '@sluice/api';
import { scheduleJobs } from '@sluice/jobs-app';
import { exitOnSignals } from '@sluice/observability';
import { startWorker } from '@sluice/worker';
import { closeAdapters, createAdapters, createRuntime, healthChecks, initEngines } from '@sluice/wiring';
import type { HealthCheck } from '@sluice/observability';

/**
 * The all-in-one process: `sluice init`, API, storage worker and jobs on one set of adapters
 * (the one-machine mode). It provisions what it uses first — nothing to do on the embedded
 * defaults (their files migrate when opened); templates, indices, namespace and topics on
 * production engines, so it needs the init role there.
 * Shutdown order: stop accepting HTTP → drain and flush the worker → finish jobs → close engines.
 */
export async function startAllInOne(): Promise<void> {
  const runtime = createRuntime('sluice');
  const { config, logger } = runtime;
  if (config.adapters.store !== 'embedded' || config.adapters.bus !== 'embedded' || config.adapters.config !== 'embedded') logger.info({ done: await initEngines(config, logger) }, 'engines provisioned');
  const adapters = await createAdapters(config, logger, ['bus', 'store', 'cache', 'configStore', 'jobs'], { publisher: true, metrics: runtime.metrics });
  // The API starts first (its shutdown step must run first); the worker's check joins
  // /readyz once the worker exists.
  const checks: Record<string, HealthCheck> = { ...healthChecks(adapters) };
  const { url } = await startApi(runtime, adapters, checks);
  checks['worker'] = await startWorker(runtime, adapters);
  scheduleJobs(runtime, adapters);
  runtime.shutdown.add('close engines', () => closeAdapters(adapters));
  exitOnSignals(runtime.shutdown, logger);
  process.stdout.write(`sluice is running at ${url} (data in ${config.dataDir}); Ctrl-C stops it\n`);
}
