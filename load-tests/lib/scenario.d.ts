// Types of scenario.js (plain JavaScript, so k6 can import it too).
export interface Stage { duration: string; target: number }
export type Threshold = string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string };
export type Load =
  | { executor: 'constant-arrival-rate'; rate: number; timeUnit: string; duration: string; preAllocatedVUs: number; maxVUs: number }
  | { executor: 'ramping-arrival-rate'; startRate: number; timeUnit: string; stages: Stage[]; preAllocatedVUs: number; maxVUs: number };
export interface Scenario {
  name: string;
  description: string;
  load: Load;
  population: { sources: { hotShare: number }; users: { count: number; hot: number; hotShare: number } };
  requests: { name: string; template: string; weight: number; batchSize: number }[];
  thresholds: Partial<Record<'http_req_duration' | 'http_req_failed' | 'checks' | 'dropped_iterations' | 'sluice_events', Threshold[]>>;
}
/** A stretch of the load: the rate moves linearly from fromPerS to toPerS requests/s over durationMs. */
export interface RateSegment { durationMs: number; fromPerS: number; toPerS: number }
export function parseDurationMs(text: string): number;
export function formatDuration(ms: number): string;
export function scaledLoad(load: Load, rateScale: number, timeScale: number): Load;
export function rateSegments(load: Load): RateSegment[];
