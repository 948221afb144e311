import type { StoreMaintenance } from '@sluice/store';
import type { Adapters, Runtime } from '@sluice/wiring';
import { defineDlqReplay } from './dlq-replay.ts';

export * from './dlq-replay.ts';

/**
 * Registers the background jobs of a process that runs them (`sluice jobs`, the all-in-one
 * `sluice start`; never the storage workers, whose role cannot create or delete indices):
 * `lifecycle` runs the store's lifecycle pass (retention in the embedded store; rollover,
 * tiers, forcemerge and deletion in Elasticsearch without ILM), `snapshot`
 * (where snapshots are configured) the store's backup, and `dlq-replay` can be asked for by
 * `sluice dlq replay`. With BullMQ each run happens once across all replicas. The jobs see
 * the store only as StoreMaintenance.
 */
export function scheduleJobs(runtime: Runtime, adapters: Pick<Adapters, 'jobs' | 'bus'> & { readonly store: StoreMaintenance }): void {
  const { logger, config, shutdown } = runtime;
  adapters.jobs.every('lifecycle', config.lifecycle.intervalMs, async () => {
    const report = await adapters.store.maintain(new Date());
    if (report.actions.length > 0) logger.info({ job: 'lifecycle', actions: report.actions }, 'lifecycle pass done');
    return { actions: report.actions };
  });
  const { store } = adapters;
  if (config.snapshots.enabled) {
    adapters.jobs.every('snapshot', config.snapshots.intervalMs, async () => {
      const report = await store.snapshot(new Date());
      if (report.actions.length > 0) logger.info({ job: 'snapshot', actions: report.actions }, 'snapshot taken');
      return { actions: report.actions };
    });
  }
  defineDlqReplay(adapters.jobs, adapters.bus);
  shutdown.add('jobs: wait for running jobs', () => adapters.jobs.close());
}
