// Turns an open-model run into figures: per-stage and total sluice-load-summary/1, the
// scenario's thresholds evaluated as k6 would (same expressions, same metric names), and the
// abortOnFail rule evaluated per stage.
import type { RateSegment, Scenario, Threshold } from '../../../load-tests/lib/scenario.js';
import { parseDurationMs } from '../../../load-tests/lib/scenario.js';
import { parseThreshold, thresholdHolds } from '../compat/thresholds.ts';
import type { MetricType } from '../compat/state.ts';
import type { LoadSummary, StageSummary } from '../summary.ts';
import type { OpenModelResult } from './open-model.ts';
import { newStageStats, type StageStats } from './stage-stats.ts';

const METRIC_TYPES: Record<string, MetricType> = { http_req_duration: 'trend', http_req_failed: 'rate', checks: 'rate', dropped_iterations: 'counter', sluice_events: 'counter' };

/** The k6-named values of `stats` over `durationS` that threshold expressions read. */
function metricValues(metric: string, stats: StageStats, durationS: number): Record<string, number> {
  const rate = (part: number, whole: number): number => (whole === 0 ? 0 : part / whole);
  switch (metric) {
    case 'http_req_duration': {
      const latency = stats.latencyMs();
      const values: Record<string, number> = { avg: latency.avg, max: latency.max, min: stats.latency.totalCount === 0 ? 0 : stats.latency.minNonZeroValue / 1000, med: latency.p50 };
      for (const p of [50, 90, 95, 99, 99.9]) values[`p(${p})`] = stats.latency.totalCount === 0 ? 0 : stats.latency.getValueAtPercentile(p) / 1000;
      return values;
    }
    case 'http_req_failed': return { rate: rate(stats.errors, stats.completed) };
    case 'checks': return { rate: rate(stats.completed - stats.errors - stats.requestsNotAccepted, stats.completed) };
    case 'dropped_iterations': return { count: stats.dropped, rate: rate(stats.dropped, durationS) };
    default: return { count: stats.acceptedEvents, rate: rate(stats.acceptedEvents, durationS) };
  }
}

function evaluate(metric: string, threshold: Threshold, stats: StageStats, durationS: number): { expression: string; ok: boolean; actual: number } {
  const expression = typeof threshold === 'string' ? threshold : threshold.threshold;
  const parsed = parseThreshold(expression, METRIC_TYPES[metric] ?? 'counter');
  const values = metricValues(metric, stats, durationS);
  return { expression, ok: thresholdHolds(parsed, values), actual: values[parsed.aggregation] ?? 0 };
}

/** Every threshold of the scenario against `stats`. */
export function evaluateThresholds(scenario: Scenario, stats: StageStats, durationS: number): LoadSummary['thresholds'] {
  return Object.entries(scenario.thresholds).flatMap(([metric, list]) => (list ?? []).map((threshold) => {
    const { expression, ok } = evaluate(metric, threshold, stats, durationS);
    return { metric, expression, ok };
  }));
}

/**
 * The abortOnFail rule for the stage that just ended (from `startMs`): the reason to stop when
 * an abortOnFail threshold fails on the stage's own figures once delayAbortEval has passed.
 */
export function abortReason(scenario: Scenario, index: number, stats: StageStats, segment: RateSegment, startMs: number): string | undefined {
  for (const [metric, list] of Object.entries(scenario.thresholds)) {
    for (const threshold of list ?? []) {
      if (typeof threshold === 'string' || threshold.abortOnFail !== true) continue;
      if (startMs + segment.durationMs < parseDurationMs(threshold.delayAbortEval ?? '0s')) continue;
      const result = evaluate(metric, threshold, stats, segment.durationMs / 1000);
      if (!result.ok) return `${metric} ${result.expression} failed in stage ${index} (${Math.round(segment.toPerS)} requests/s): ${Math.round(result.actual * 1000) / 1000}`;
    }
  }
  return undefined;
}

function stageSummary(index: number, segment: RateSegment, startMs: number, stats: StageStats): StageSummary {
  const durationS = segment.durationMs / 1000;
  const per = (count: number): number => (durationS === 0 ? 0 : count / durationS);
  return {
    index,
    startS: startMs / 1000,
    durationS,
    fromRatePerS: segment.fromPerS,
    toRatePerS: segment.toPerS,
    offeredRate: per(stats.scheduled),
    achievedRate: per(stats.started),
    eventsPerS: per(stats.acceptedEvents),
    requests: stats.started,
    errors: stats.errors,
    errorsByStatus: { ...stats.errorsByStatus },
    eventsNotAccepted: stats.eventsNotAccepted,
    dropped: stats.dropped,
    latencyMs: stats.latencyMs(),
  };
}

/** The run as a sluice-load-summary/1 document (stages that never started are left out). */
export function openModelSummary(scenario: Scenario, url: string, result: OpenModelResult, settings: { rateScale: number; timeScale: number }): LoadSummary {
  const total = newStageStats();
  const stages: StageSummary[] = [];
  let startMs = 0;
  result.segments.forEach((segment, index) => {
    const stats = result.stages[index]!;
    if (stats.scheduled > 0 || startMs < result.elapsedMs) stages.push(stageSummary(index, segment, startMs, stats));
    total.add(stats);
    startMs += segment.durationMs;
  });
  const durationS = result.elapsedMs / 1000;
  return {
    format: 'sluice-load-summary/1',
    runner: 'sluice-load',
    scenario: scenario.name,
    url,
    finishedAt: new Date().toISOString(),
    durationS,
    totals: {
      requests: total.started,
      events: total.acceptedEvents,
      requestsPerS: total.started / durationS,
      eventsPerS: total.acceptedEvents / durationS,
      errors: total.errors,
      errorRate: total.completed === 0 ? 0 : total.errors / total.completed,
      dropped: total.dropped,
      latencyMs: total.latencyMs(),
    },
    errorsByStatus: { ...total.errorsByStatus },
    thresholds: evaluateThresholds(scenario, total, durationS),
    stages,
    settings: { ...settings, maxInFlight: result.maxInFlight, aborted: result.aborted },
  };
}
