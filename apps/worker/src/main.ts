import { exitOnSignals } from '@sluice/observability';
import { closeAdapters, createAdapters, createRuntime } from '@sluice/wiring';
import { startWorker } from './start.ts';

/** Composition root of the storage worker alone (production: M replicas on a shared subscription). */
const runtime = createRuntime('sluice-worker');
const adapters = await createAdapters(runtime.config, runtime.logger, ['bus', 'store']);
await startWorker(runtime, adapters);
runtime.shutdown.add('close engines', () => closeAdapters(adapters));
exitOnSignals(runtime.shutdown, runtime.logger);
