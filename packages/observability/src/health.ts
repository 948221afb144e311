/** What a dependency says of itself for /readyz. */
export interface DependencyHealth {
  /** False makes the process not ready. */
  readonly ok: boolean;
  /** Which adapter runs (e.g. `embedded`, `pulsar`). */
  readonly adapter: string;
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly error?: string;
}

/** Anything with a health check. Checks must be cheap and must not throw. */
export interface HealthCheck {
  health(): Promise<DependencyHealth>;
}

export interface ReadinessReport {
  ready: boolean;
  dependencies: Record<string, DependencyHealth>;
}

/** Runs every check concurrently, each bounded by `timeoutMs`; a throwing or slow check is not ready. */
export async function checkReadiness(checks: Readonly<Record<string, HealthCheck>>, timeoutMs = 2000): Promise<ReadinessReport> {
  const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await boundedCheck(check, timeoutMs)] as const));
  const dependencies = Object.fromEntries(entries);
  return { ready: entries.every(([, health]) => health.ok), dependencies };
}

async function boundedCheck(check: HealthCheck, timeoutMs: number): Promise<DependencyHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DependencyHealth>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, adapter: 'unknown', error: `health check timed out after ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([check.health(), timeout]);
  } catch (error) {
    return { ok: false, adapter: 'unknown', error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
