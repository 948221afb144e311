// The sluice-load-summary/1 document: what the k6 scripts' handleSummary
// (load-tests/lib/k6.js) and the open-model runner write, and `sluice size` reads.
// Shape: load-tests/summary.schema.json; described in docs/sizing.md.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { LatencyMs } from './runner/stage-stats.ts';

export interface SummaryTotals {
  requests: number;
  /** Events the server accepted. */
  events: number;
  requestsPerS: number;
  eventsPerS: number;
  errors: number;
  errorRate: number;
  dropped: number;
  latencyMs: LatencyMs;
}

export interface StageSummary {
  index: number;
  startS: number;
  durationS: number;
  /** The schedule's rate at the stage's start and end, requests/s. */
  fromRatePerS: number;
  toRatePerS: number;
  /** Arrivals scheduled per second (sent + dropped). */
  offeredRate: number;
  /** Requests sent per second. */
  achievedRate: number;
  eventsPerS: number;
  requests: number;
  errors: number;
  errorsByStatus: Record<string, number>;
  eventsNotAccepted: number;
  dropped: number;
  latencyMs: LatencyMs;
}

export interface LoadSummary {
  format: 'sluice-load-summary/1';
  runner: 'k6' | 'sluice-load';
  scenario: string;
  url: string;
  finishedAt: string;
  durationS: number;
  totals: SummaryTotals;
  /** Null from k6, which reports no breakdown by status. */
  errorsByStatus: Record<string, number> | null;
  thresholds: { metric: string; expression: string; ok: boolean }[];
  /** One per rate segment of the scenario; empty from k6. */
  stages: StageSummary[];
  /** Only the Node runner: RATE_SCALE / TIME_SCALE applied, whether a threshold aborted the run. */
  settings?: { rateScale: number; timeScale: number; maxInFlight: number; aborted: string | null };
}

let validator: ValidateFunction | undefined;

/** Checks `value` against load-tests/summary.schema.json; throws listing every problem (`what` names the document). */
export function validateSummary(value: unknown, what: string): LoadSummary {
  validator ??= new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(new URL('../../load-tests/summary.schema.json', import.meta.url), 'utf8')) as object);
  if (!validator(value)) {
    const problems = (validator.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
    throw new Error(`${what} does not match load-tests/summary.schema.json: ${problems.join('; ')}`);
  }
  return value as LoadSummary;
}
