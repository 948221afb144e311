// Checks a k6 script's `options` as k6 would before a run: known option names, executors and
// their fields, durations, and thresholds that parse on metrics that exist. Returns the
// problems (empty when the options would run) and the scenarios to iterate once.
import { parseDurationMs } from '../../../load-tests/lib/scenario.js';
import { parseThreshold, type ThresholdExpression } from './thresholds.ts';
import type { MetricRecord } from './state.ts';

const OPTION_NAMES = new Set([
  'vus', 'duration', 'iterations', 'stages', 'scenarios', 'thresholds', 'summaryTrendStats', 'summaryTimeUnit', 'discardResponseBodies',
  'noConnectionReuse', 'noVUConnectionReuse', 'userAgent', 'insecureSkipTLSVerify', 'setupTimeout', 'teardownTimeout', 'tags', 'batch',
  'batchPerHost', 'httpDebug', 'maxRedirects', 'minIterationDuration', 'rps', 'throw', 'hosts', 'dns', 'noCookiesReset', 'systemTags',
  'ext', 'cloud', 'tlsAuth', 'tlsCipherSuites', 'tlsVersion', 'blacklistIPs', 'blockHostnames', 'localIPs', 'noSetup', 'noTeardown',
  'paused', 'linger', 'noUsageReport', 'consoleOutput', 'executionSegment', 'executionSegmentSequence',
]);
const DURATION_OPTIONS = ['duration', 'setupTimeout', 'teardownTimeout', 'minIterationDuration'];
const COMMON_FIELDS = ['executor', 'exec', 'env', 'tags', 'startTime', 'gracefulStop', 'options'];
/** Each executor's fields: required first, then optional. */
const EXECUTORS: Record<string, { required: string[]; optional: string[] }> = {
  'shared-iterations': { required: [], optional: ['vus', 'iterations', 'maxDuration'] },
  'per-vu-iterations': { required: [], optional: ['vus', 'iterations', 'maxDuration'] },
  'constant-vus': { required: ['duration'], optional: ['vus'] },
  'ramping-vus': { required: ['stages'], optional: ['startVUs', 'gracefulRampDown'] },
  'constant-arrival-rate': { required: ['rate', 'duration', 'preAllocatedVUs'], optional: ['timeUnit', 'maxVUs'] },
  'ramping-arrival-rate': { required: ['stages', 'preAllocatedVUs'], optional: ['startRate', 'timeUnit', 'maxVUs'] },
  'externally-controlled': { required: ['duration'], optional: ['vus', 'maxVUs'] },
};
const SCENARIO_DURATIONS = ['duration', 'timeUnit', 'startTime', 'gracefulStop', 'maxDuration', 'gracefulRampDown'];

export interface ParsedThreshold {
  metric: string;
  source: string;
  expression: ThresholdExpression;
}

export interface CheckedOptions {
  problems: string[];
  /** Scenario name → the exported function it runs. */
  scenarios: Record<string, string>;
  thresholds: ParsedThreshold[];
  summaryTrendStats: string[];
}

type Options = Record<string, unknown>;

function checkDuration(value: unknown, where: string, problems: string[]): void {
  if (value === undefined) return;
  try {
    parseDurationMs(value as string);
  } catch (error) {
    problems.push(`${where}: ${(error as Error).message}`);
  }
}

function checkStages(stages: unknown, where: string, problems: string[]): void {
  if (!Array.isArray(stages) || stages.length === 0) {
    problems.push(`${where} must be a non-empty array of { duration, target }`);
    return;
  }
  stages.forEach((stage: unknown, index) => {
    const { duration, target } = (stage ?? {}) as { duration?: unknown; target?: unknown };
    checkDuration(duration, `${where}[${index}].duration`, problems);
    if (typeof target !== 'number' || target < 0) problems.push(`${where}[${index}].target must be a number ≥ 0`);
  });
}

function checkScenario(name: string, scenario: Options, problems: string[]): void {
  const where = `options.scenarios.${name}`;
  const executor = EXECUTORS[String(scenario['executor'])];
  if (executor === undefined) {
    problems.push(`${where}.executor ${JSON.stringify(scenario['executor'])} is not a k6 executor (${Object.keys(EXECUTORS).join(', ')})`);
    return;
  }
  for (const field of executor.required) if (scenario[field] === undefined) problems.push(`${where}: ${String(scenario['executor'])} needs ${field}`);
  const allowed = new Set([...COMMON_FIELDS, ...executor.required, ...executor.optional]);
  for (const field of Object.keys(scenario)) if (!allowed.has(field)) problems.push(`${where}.${field} is not a field of the ${String(scenario['executor'])} executor`);
  for (const field of SCENARIO_DURATIONS) checkDuration(scenario[field], `${where}.${field}`, problems);
  if (scenario['stages'] !== undefined) checkStages(scenario['stages'], `${where}.stages`, problems);
  for (const field of ['rate', 'startRate', 'preAllocatedVUs', 'maxVUs', 'vus', 'iterations', 'startVUs']) {
    const value = scenario[field];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) problems.push(`${where}.${field} must be a whole number ≥ 0, not ${JSON.stringify(value)}`);
  }
  const pre = scenario['preAllocatedVUs'], max = scenario['maxVUs'];
  if (typeof pre === 'number' && typeof max === 'number' && max < pre) problems.push(`${where}: maxVUs (${max}) is below preAllocatedVUs (${pre})`);
}

function checkThresholds(thresholds: unknown, metrics: ReadonlyMap<string, MetricRecord>, problems: string[]): ParsedThreshold[] {
  if (thresholds === undefined) return [];
  if (thresholds === null || typeof thresholds !== 'object') {
    problems.push('options.thresholds must be an object of metric → expressions');
    return [];
  }
  const parsed: ParsedThreshold[] = [];
  for (const [key, list] of Object.entries(thresholds as Record<string, unknown>)) {
    const metricName = key.replace(/\{.*\}$/, '');
    const metric = metrics.get(metricName);
    if (metric === undefined) {
      problems.push(`threshold on ${key}: there is no metric ${metricName} (built-in, or created in the init context)`);
      continue;
    }
    if (!Array.isArray(list)) {
      problems.push(`threshold on ${key}: expected an array of expressions`);
      continue;
    }
    for (const item of list as unknown[]) {
      const source = typeof item === 'object' && item !== null ? (item as { threshold?: unknown }).threshold : item;
      if (typeof item === 'object' && item !== null) checkDuration((item as { delayAbortEval?: unknown }).delayAbortEval, `threshold on ${key}: delayAbortEval`, problems);
      try {
        parsed.push({ metric: key, source: String(source), expression: parseThreshold(source, metric.type) });
      } catch (error) {
        problems.push(`threshold on ${key}: ${(error as Error).message}`);
      }
    }
  }
  return parsed;
}

/** Checks `options` once the script's init context ran (`metrics` holds its custom metrics too). */
export function checkOptions(options: unknown, metrics: ReadonlyMap<string, MetricRecord>): CheckedOptions {
  const problems: string[] = [];
  const given = (options ?? {}) as Options;
  if (typeof given !== 'object') return { problems: ['options must be an object'], scenarios: {}, thresholds: [], summaryTrendStats: [] };
  for (const key of Object.keys(given)) if (!OPTION_NAMES.has(key)) problems.push(`options.${key} is not a k6 option`);
  for (const key of DURATION_OPTIONS) checkDuration(given[key], `options.${key}`, problems);
  if (given['stages'] !== undefined) checkStages(given['stages'], 'options.stages', problems);
  const scenarios: Record<string, string> = {};
  if (given['scenarios'] !== undefined) {
    for (const [name, scenario] of Object.entries(given['scenarios'] as Record<string, Options>)) {
      checkScenario(name, scenario, problems);
      scenarios[name] = typeof scenario['exec'] === 'string' ? scenario['exec'] : 'default';
    }
  } else {
    scenarios['default'] = 'default';
  }
  const thresholds = checkThresholds(given['thresholds'], metrics, problems);
  const summaryTrendStats = Array.isArray(given['summaryTrendStats']) ? (given['summaryTrendStats'] as string[]) : ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)'];
  return { problems, scenarios, thresholds, summaryTrendStats };
}
