// What one compatibility run records: checks, failed requests, metric samples, the init or VU
// phase. The k6 module shims (k6/*.ts) write here, the runner (run-script.ts) reads it.

export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend';
export type MetricContains = 'default' | 'time' | 'data';

/** One k6 metric and its samples (a rate's samples are 1 or 0). */
export interface MetricRecord {
  readonly name: string;
  readonly type: MetricType;
  readonly contains: MetricContains;
  readonly samples: number[];
}

export interface CheckRecord {
  readonly name: string;
  readonly path: string;
  readonly ok: boolean;
}

/** k6's built-in metrics that the runner fills. */
const BUILT_IN: readonly [string, MetricType, MetricContains][] = [
  ['http_reqs', 'counter', 'default'],
  ['http_req_failed', 'rate', 'default'],
  ['http_req_duration', 'trend', 'time'],
  ['http_req_blocked', 'trend', 'time'],
  ['http_req_connecting', 'trend', 'time'],
  ['http_req_tls_handshaking', 'trend', 'time'],
  ['http_req_sending', 'trend', 'time'],
  ['http_req_waiting', 'trend', 'time'],
  ['http_req_receiving', 'trend', 'time'],
  ['iterations', 'counter', 'default'],
  ['iteration_duration', 'trend', 'time'],
  ['dropped_iterations', 'counter', 'default'],
  ['checks', 'rate', 'default'],
  ['data_sent', 'counter', 'data'],
  ['data_received', 'counter', 'data'],
  ['vus', 'gauge', 'default'],
  ['vus_max', 'gauge', 'default'],
];

export const run = {
  /** 'init' while the script module loads (k6's init context), 'vu' while setup/iteration/teardown run. */
  phase: 'init' as 'init' | 'vu',
  /** The directory of the script: open() reads relative to it. */
  scriptDir: '',
  env: {} as Record<string, string>,
  vu: 0,
  iteration: 0,
  groupPath: [] as string[],
  checks: [] as CheckRecord[],
  /** Requests that errored or answered ≥ 400 (k6's http_req_failed), as messages. */
  failedRequests: [] as string[],
  metrics: new Map<string, MetricRecord>(BUILT_IN.map(([name, type, contains]) => [name, { name, type, contains, samples: [] }])),
};

/** A metric, created on first use (custom metrics only in the init context, as in k6). */
export function defineMetric(name: string, type: MetricType, contains: MetricContains): MetricRecord {
  const existing = run.metrics.get(name);
  if (existing !== undefined) {
    if (existing.type !== type) throw new K6CompatError(`metric ${name} is a ${existing.type} already; it cannot be redefined as a ${type}`);
    return existing;
  }
  if (run.phase !== 'init') throw new K6CompatError(`metric ${name}: k6 creates metrics only in the init context (module top level)`);
  const metric: MetricRecord = { name, type, contains, samples: [] };
  run.metrics.set(name, metric);
  return metric;
}

export function addSample(name: string, value: number): void {
  const metric = run.metrics.get(name);
  if (metric === undefined) throw new K6CompatError(`no metric ${name}`);
  metric.samples.push(value);
}

/** A script asked for something the compatibility runner cannot do, or used an API wrongly: the run fails with this message. */
export class K6CompatError extends Error {
  override name = 'K6CompatError';
}

/** Throws for a k6 API the runner does not provide, by name. */
export function unsupported(api: string): never {
  throw new K6CompatError(`${api} is a k6 API the compatibility runner (scripts/load/compat) does not support; add it to the shims or do without it`);
}
