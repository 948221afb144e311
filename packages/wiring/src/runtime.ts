import { loadConfig, secretValues, type Config, type Environment } from '@sluice/config';
import { createLogger, Metrics, Shutdown, type Logger } from '@sluice/observability';

/** What every deployable starts from: the frozen config, a logger, metrics and a shutdown plan. */
export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly shutdown: Shutdown;
}

/**
 * Parses the environment once. On an invalid value, prints every problem and exits 78
 * (EX_CONFIG) before anything starts.
 */
export function createRuntime(name: string, environment: Environment = process.env): Runtime {
  let config: Config;
  try {
    config = loadConfig(environment);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(78);
  }
  // Known secret values are masked by value too, wherever a log line carries them (an
  // engine's error message quoting a URL or a header, say).
  const logger = createLogger(config.logging.level, { name, secrets: secretValues(environment) });
  return { config, logger, metrics: new Metrics(), shutdown: new Shutdown(logger, config.shutdownTimeoutMs) };
}
