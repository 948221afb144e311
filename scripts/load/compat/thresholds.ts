// k6 threshold expressions ("p(99)<100", "rate<0.01", "count>0"): parsed with the aggregations
// k6 allows per metric type, and evaluated against a metric's summary values.
import type { MetricType } from './state.ts';

export interface ThresholdExpression {
  /** The summary value it reads: avg, min, max, med, count, rate, value or p(N). */
  aggregation: string;
  operator: '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';
  value: number;
}

const EXPRESSION = /^\s*(avg|min|max|med|count|rate|value|p\(\s*(\d+(?:\.\d+)?)\s*\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/;

const ALLOWED: Record<MetricType, (aggregation: string) => boolean> = {
  counter: (aggregation) => aggregation === 'count' || aggregation === 'rate',
  gauge: (aggregation) => aggregation === 'value',
  rate: (aggregation) => aggregation === 'rate',
  trend: (aggregation) => ['avg', 'min', 'max', 'med'].includes(aggregation) || aggregation.startsWith('p('),
};

/** Parses `text` for a metric of `type`; throws a message saying what is wrong. */
export function parseThreshold(text: unknown, type: MetricType): ThresholdExpression {
  if (typeof text !== 'string') throw new Error(`${JSON.stringify(text)} is not a threshold expression`);
  const match = EXPRESSION.exec(text);
  if (match === null) throw new Error(`"${text}" does not parse as <aggregation> <operator> <number>`);
  const percentile = match[2];
  if (percentile !== undefined && Number(percentile) > 100) throw new Error(`"${text}": a percentile is at most 100`);
  const aggregation = percentile === undefined ? match[1]! : `p(${Number(percentile)})`;
  if (!ALLOWED[type](aggregation)) throw new Error(`"${text}": ${match[1]!} is not an aggregation of a ${type} metric`);
  return { aggregation, operator: match[3] as ThresholdExpression['operator'], value: Number(match[4]) };
}

/** Whether `expression` holds for `values` (a metric's summary values, keyed like k6's). */
export function thresholdHolds(expression: ThresholdExpression, values: Record<string, number>): boolean {
  const actual = values[expression.aggregation] ?? 0;
  switch (expression.operator) {
    case '<': return actual < expression.value;
    case '<=': return actual <= expression.value;
    case '>': return actual > expression.value;
    case '>=': return actual >= expression.value;
    case '==':
    case '===': return actual === expression.value;
    case '!=': return actual !== expression.value;
  }
}
