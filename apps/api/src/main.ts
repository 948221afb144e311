import type { Server } from 'node:http';
import { exitOnSignals, type HealthCheck, startOpsServer } from '@sluice/observability';
import { ProvisioningGate, closeAdapters, createAdapters, createRuntime, healthChecks } from '@sluice/wiring';
// The worker's probe server serves this process too while it waits for `sluice init`.
import { startApi } from './start.ts';

/**
 * Composition root of the API alone (production: N replicas in front of the real bus). It
 * provisions nothing: until `sluice init` has run it serves only /healthz, /readyz (not
 * ready, check `init`) and /metrics, then the API takes the port over. Its Elasticsearch
 * role reads, and writes only profile merges (the merge route): /track publishes to the bus.
 */
const runtime = createRuntime('sluice-api');
const { config, logger, metrics, shutdown } = runtime;
const gate = new ProvisioningGate(config, logger);
shutdown.add('init: stop waiting', () => gate.stop());
exitOnSignals(shutdown, logger);
let probes: Server | undefined;
const closeProbes = () => new Promise<void>((resolve) => (probes?.listening === true ? probes.close(() => resolve()) : resolve()));
shutdown.add('probes: close', closeProbes);
if (!(await gate.isProvisioned())) {
  probes = (await startOpsServer({ host: config.http.host, port: config.http.port, checks: { init: gate }, metrics, logger, isDraining: () => shutdown.started, adminToken: config.http.adminToken })).server;
}
if (await gate.wait()) {
  await closeProbes();
  const adapters = await createAdapters(config, logger, ['bus', 'store', 'cache', 'configStore'], { publisher: true, metrics: runtime.metrics });
  const checks: Record<string, HealthCheck> = { init: gate, ...healthChecks(adapters) };
  await startApi(runtime, adapters, checks);
  shutdown.add('close engines', () => closeAdapters(adapters));
}
