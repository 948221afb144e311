// The data k6 hands to handleSummary(data), built from the samples of one compatibility run:
// metrics with type, contains, values (per summaryTrendStats) and threshold results,
// root_group with its checks, options and state.
import { thresholdHolds, type ThresholdExpression } from './thresholds.ts';
import { run, type CheckRecord, type MetricRecord } from './state.ts';
import type { ParsedThreshold } from './options.ts';

export interface K6SummaryData {
  metrics: Record<string, { type: string; contains: string; values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
  root_group: { name: string; path: string; id: string; groups: unknown[]; checks: { name: string; path: string; id: string; passes: number; fails: number }[] };
  options: { summaryTrendStats: string[]; summaryTimeUnit: string; noColor: boolean };
  state: { isStdOutTTY: boolean; isStdErrTTY: boolean; testRunDurationMs: number };
}

/** The p-th percentile (0–100) of sorted samples, interpolated linearly as k6 does. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

function trendValue(sorted: readonly number[], stat: string): number {
  const sum = sorted.reduce((total, sample) => total + sample, 0);
  switch (stat) {
    case 'avg': return sorted.length === 0 ? 0 : sum / sorted.length;
    case 'min': return sorted[0] ?? 0;
    case 'max': return sorted[sorted.length - 1] ?? 0;
    case 'med': return percentile(sorted, 50);
    case 'count': return sorted.length;
  }
  const match = /^p\((\d+(?:\.\d+)?)\)$/.exec(stat);
  return match === null ? 0 : percentile(sorted, Number(match[1]));
}

/** A metric's summary values, keyed as k6 keys them; `extraStats` are what thresholds read beyond summaryTrendStats. */
export function metricValues(metric: MetricRecord, durationS: number, trendStats: readonly string[]): Record<string, number> {
  const { samples } = metric;
  const sum = samples.reduce((total, sample) => total + sample, 0);
  switch (metric.type) {
    case 'counter': return { count: sum, rate: durationS > 0 ? sum / durationS : 0 };
    case 'gauge': return { value: samples[samples.length - 1] ?? 0, min: Math.min(...samples, 0), max: Math.max(...samples, 0) };
    case 'rate': return { rate: samples.length === 0 ? 0 : sum / samples.length, passes: sum, fails: samples.length - sum };
    case 'trend': {
      const sorted = [...samples].sort((a, b) => a - b);
      return Object.fromEntries(trendStats.map((stat) => [stat, trendValue(sorted, stat)]));
    }
  }
}

function checkGroups(checks: readonly CheckRecord[]): K6SummaryData['root_group']['checks'] {
  const byPath = new Map<string, { name: string; path: string; id: string; passes: number; fails: number }>();
  for (const check of checks) {
    const entry = byPath.get(check.path) ?? { name: check.name, path: check.path, id: check.path, passes: 0, fails: 0 };
    if (check.ok) entry.passes++;
    else entry.fails++;
    byPath.set(check.path, entry);
  }
  return [...byPath.values()];
}

function aggregationsOf(expressions: readonly ThresholdExpression[]): string[] {
  return expressions.map((expression) => expression.aggregation);
}

/** k6's handleSummary data for this run, with each threshold's result. */
export function summaryData(thresholds: readonly ParsedThreshold[], trendStats: readonly string[], durationMs: number): K6SummaryData {
  const metrics: K6SummaryData['metrics'] = {};
  for (const metric of run.metrics.values()) {
    const own = thresholds.filter((threshold) => threshold.metric.replace(/\{.*\}$/, '') === metric.name);
    if (metric.samples.length === 0 && own.length === 0) continue; // k6 leaves out metrics nothing sampled
    const stats = [...new Set([...trendStats, ...aggregationsOf(own.map((threshold) => threshold.expression))])];
    const values = metricValues(metric, durationMs / 1000, stats);
    const entry: K6SummaryData['metrics'][string] = { type: metric.type, contains: metric.contains, values: metric.type === 'trend' ? Object.fromEntries(trendStats.map((stat) => [stat, values[stat] ?? 0])) : values };
    if (own.length > 0) entry.thresholds = Object.fromEntries(own.map((threshold) => [threshold.source, { ok: thresholdHolds(threshold.expression, values) }]));
    metrics[metric.name] = entry;
  }
  return {
    metrics,
    root_group: { name: '', path: '', id: 'd41d8cd98f00b204e9800998ecf8427e', groups: [], checks: checkGroups(run.checks) },
    options: { summaryTrendStats: [...trendStats], summaryTimeUnit: '', noColor: true },
    state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: durationMs },
  };
}
