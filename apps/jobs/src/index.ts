import type { Adapters, Runtime } from '@sluice/wiring';

/**
 * Schedules the background jobs. `lifecycle` runs the store's lifecycle pass (retention in
 * the embedded store; rollover and tiers where the store has them), once across the cluster.
 */
export function scheduleJobs(runtime: Runtime, adapters: Pick<Adapters, 'jobs' | 'store'>): void {
  const { logger, config, shutdown } = runtime;
  adapters.jobs.every('lifecycle', config.lifecycle.intervalMs, async () => {
    const report = await adapters.store.maintain(new Date());
    if (report.actions.length > 0) logger.info({ job: 'lifecycle', actions: report.actions }, 'lifecycle pass done');
  });
  shutdown.add('jobs: wait for running jobs', () => adapters.jobs.close());
}
