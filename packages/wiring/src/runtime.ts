import { loadConfig, secretValues, type Config, type Environment } from '@sluice/config';
import { createLogger, exitOnSignals, Metrics, Shutdown, startOpsServer, type HealthCheck, type Logger } from '@sluice/observability';

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

/** The probe endpoints of a process that serves no API, and how to close them. */
export interface Probes {
  /** What /readyz reports on; the process adds its dependencies once it has them. */
  readonly checks: Record<string, HealthCheck>;
  readonly url: string;
  /** Closes the endpoints: add it as the last shutdown step, so probes answer while the process drains. */
  close(): Promise<void>;
}

/**
 * Serves /healthz, /readyz and /metrics on HOST:PORT for a storage worker or `sluice jobs`
 * (readiness fails once shutdown has started), and exits on SIGTERM/SIGINT through the
 * runtime's ordered shutdown.
 */
export async function serveProbes(runtime: Runtime): Promise<Probes> {
  const { config, logger, metrics, shutdown } = runtime;
  const checks: Record<string, HealthCheck> = {};
  const ops = await startOpsServer({ host: config.http.host, port: config.http.port, checks, metrics, logger, isDraining: () => shutdown.started, adminToken: config.http.adminToken });
  exitOnSignals(shutdown, logger);
  return { checks, url: ops.url, close: () => new Promise<void>((resolve) => ops.server.close(() => resolve())) };
}
