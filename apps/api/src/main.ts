import { exitOnSignals } from '@sluice/observability';
import { closeAdapters, createAdapters, createRuntime, healthChecks } from '@sluice/wiring';
import { startApi } from './start.ts';

/** Composition root of the API alone (production: N replicas in front of the real bus). */
const runtime = createRuntime('sluice-api');
const adapters = await createAdapters(runtime.config, runtime.logger, ['bus', 'store', 'cache', 'configStore'], { publisher: true });
await startApi(runtime, adapters, healthChecks(adapters));
runtime.shutdown.add('close engines', () => closeAdapters(adapters));
exitOnSignals(runtime.shutdown, runtime.logger);
