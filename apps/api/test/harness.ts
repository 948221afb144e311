import { loadConfig, type Config } from '@sluice/config';
import { createLogger, Metrics } from '@sluice/observability';
import { tempDir } from '@sluice/testkit';
import { createAdapters, closeAdapters, healthChecks, type Adapters } from '@sluice/wiring';
import { buildApi, type Api } from '../src/index.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface Harness {
  readonly api: Api;
  readonly adapters: Adapters;
  readonly config: Config;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

/** The API on real embedded adapters in a temp DATA_DIR, driven with inject(). */
export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const { dir, cleanup } = await tempDir('sluice-api-');
  const config = loadConfig({ DATA_DIR: dir, ADMIN_TOKEN, SOURCE_CACHE_TTL: '0', ...env });
  const logger = createLogger('critical');
  const adapters = await createAdapters(config, logger, ['bus', 'store', 'cache', 'configStore', 'jobs']);
  const metrics = new Metrics({ defaultMetrics: false });
  const api = buildApi({ config, ...adapters, logger, metrics, checks: healthChecks(adapters) });
  await api.app.ready();
  return {
    api,
    adapters,
    config,
    metrics,
    close: async () => {
      await api.app.close();
      await closeAdapters(adapters);
      await cleanup();
    },
  };
}

export const trackBody = (overrides: Record<string, unknown> = {}) => ({
  source: { id: 'demo' },
  session: { id: 'session-1' },
  events: [{ type: 'page-view', properties: { url: 'https://example.com/' } }],
  ...overrides,
});
