import { timingSafeEqual } from 'node:crypto';
import { withTimeout } from '@sluice/core';
import { redactValue } from './redaction.ts';

/** What a dependency says of itself for /readyz. */
export interface DependencyHealth {
  /** False makes the process not ready. */
  readonly ok: boolean;
  /**
   * The dependency is down but the process keeps serving without it, by a documented rule
   * (the Redis profile cache: identity degrades, docs/redis.md). Such a dependency says
   * `ok: true` — a replica is not taken out of rotation for it — and `degraded: true`.
   */
  readonly degraded?: boolean;
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
  try {
    return await withTimeout(timeoutMs, () => check.health(), () => new Error(`health check timed out after ${timeoutMs} ms`));
  } catch (error) {
    return { ok: false, adapter: 'unknown', error: error instanceof Error ? error.message : String(error) };
  }
}

/** What /readyz answers. */
export interface ReadinessBody {
  ready: boolean;
  /** Some dependency is down and the process serves without it (DependencyHealth.degraded). */
  degraded: boolean;
  draining: boolean;
  dependencies: Record<string, DependencyHealth>;
}

/**
 * The /readyz body for a caller. Anonymous callers (probes, load balancers, anyone who can
 * reach the port) learn whether each dependency is ready, which adapter runs, and the
 * numbers and flags of its detail (backlogs, fill levels, counters) — never a text: no
 * paths, hosts, names or error messages. Callers with the admin token get each dependency's
 * whole detail and error, with secrets and URL credentials redacted.
 */
export function readinessBody(report: ReadinessReport, draining: boolean, detailed: boolean): ReadinessBody {
  const dependencies: Record<string, DependencyHealth> = {};
  for (const [name, health] of Object.entries(report.dependencies)) {
    if (detailed) dependencies[name] = redactValue(health) as DependencyHealth;
    else dependencies[name] = { ok: health.ok, ...(health.degraded === true ? { degraded: true } : {}), adapter: health.adapter, ...(health.detail === undefined ? {} : { detail: numbersOnly(health.detail) as Record<string, unknown> }) };
  }
  const degraded = Object.values(report.dependencies).some((health) => health.degraded === true);
  return { ready: report.ready && !draining, degraded, draining, dependencies };
}

/** `Bearer` and the spaces after it; the scheme in any case (RFC 9110 §11.1: schemes are case-insensitive). */
const BEARER_SCHEME = /^bearer +/i;

/**
 * True when an `Authorization` header is `Bearer <token>` — the scheme in any case, the token
 * compared in constant time; false when no token is configured.
 */
export function hasBearerToken(authorization: string | undefined, token: string | undefined): boolean {
  const scheme = authorization === undefined ? null : BEARER_SCHEME.exec(authorization);
  if (token === undefined || authorization === undefined || scheme === null) return false;
  const given = Buffer.from(authorization.slice(scheme[0].length));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A copy keeping only numbers and booleans (and the objects and arrays that hold them). */
function numbersOnly(value: unknown, depth = 0): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value !== 'object' || value === null || depth > 8) return undefined;
  if (Array.isArray(value)) return value.map((item: unknown) => numbersOnly(item, depth + 1)).filter((item) => item !== undefined);
  const kept: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const copy = numbersOnly(child, depth + 1);
    if (copy !== undefined) kept[key] = copy;
  }
  return kept;
}
