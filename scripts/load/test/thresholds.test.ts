// k6 threshold expressions: what parses for which metric type (k6 refuses the rest before a
// run, so the compatibility runner must too), and how they evaluate.
import { describe, expect, it } from '@jest/globals';
import { parseThreshold, thresholdHolds } from '../compat/thresholds.ts';

describe('threshold expressions', () => {
  it('parses the forms the scripts use', () => {
    expect(parseThreshold('p(99)<100', 'trend')).toEqual({ aggregation: 'p(99)', operator: '<', value: 100 });
    expect(parseThreshold(' p( 99.9 ) <= 250 ', 'trend')).toEqual({ aggregation: 'p(99.9)', operator: '<=', value: 250 });
    expect(parseThreshold('rate==0', 'rate')).toEqual({ aggregation: 'rate', operator: '==', value: 0 });
    expect(parseThreshold('count<100', 'counter')).toEqual({ aggregation: 'count', operator: '<', value: 100 });
    expect(parseThreshold('rate>0.999', 'rate').value).toBe(0.999);
  });

  it.each([
    ['p99<100', 'trend', /does not parse/],
    ['p(99) < ', 'trend', /does not parse/],
    ['p(101)<5', 'trend', /at most 100/],
    ['rate<0.01', 'trend', /not an aggregation of a trend metric/],
    ['p(95)<1', 'rate', /not an aggregation of a rate metric/],
    ['avg<1', 'counter', /not an aggregation of a counter metric/],
  ] as const)('refuses %s on a %s metric', (text, type, reason) => {
    expect(() => parseThreshold(text, type)).toThrow(reason);
  });

  it('evaluates against summary values', () => {
    expect(thresholdHolds(parseThreshold('p(99)<100', 'trend'), { 'p(99)': 99.9 })).toBe(true);
    expect(thresholdHolds(parseThreshold('p(99)<100', 'trend'), { 'p(99)': 100 })).toBe(false);
    expect(thresholdHolds(parseThreshold('rate==0', 'rate'), { rate: 0.001 })).toBe(false);
    expect(thresholdHolds(parseThreshold('count>=3', 'counter'), { count: 3 })).toBe(true);
  });
});
