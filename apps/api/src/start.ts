import type { Adapters, Runtime } from '@sluice/wiring';
import { buildApi } from './app.ts';

/**
 * Listens on HOST:PORT and adds the API's shutdown steps: stop accepting (readiness fails
 * first, in-flight requests finish), before any engine is closed.
 */
export async function startApi(runtime: Runtime, adapters: Pick<Adapters, 'bus' | 'store' | 'cache' | 'configStore'>, checks: ApiChecks): Promise<{ url: string }> {
  const { config, logger, metrics, shutdown } = runtime;
  const api = buildApi({ config, ...adapters, logger, metrics, checks });
  shutdown.add('api: stop accepting and finish in-flight requests', async () => {
    api.startDraining();
    await api.app.close();
  });
  const url = await api.app.listen({ host: config.http.host, port: config.http.port });
  logger.warn({ url }, 'sluice api listening');
  return { url };
}

type ApiChecks = Parameters<typeof buildApi>[0]['checks'];
