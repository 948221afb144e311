import type { Adapters, Runtime } from '@sluice/wiring';
import { StorageWorker } from './worker.ts';

/** Starts a storage worker and adds its shutdown step (stop taking, flush, release). */
export async function startWorker(runtime: Runtime, adapters: Pick<Adapters, 'bus' | 'store'>): Promise<StorageWorker> {
  const { config, logger, metrics, shutdown } = runtime;
  const worker = new StorageWorker({ ...adapters, config, logger, metrics });
  await worker.start();
  shutdown.add('worker: stop taking messages and flush the batch', () => worker.stop(Math.max(100, config.shutdownTimeoutMs - 500)));
  return worker;
}
