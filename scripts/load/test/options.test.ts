// The compatibility runner refuses options that k6 would refuse before a run: it is what keeps
// a broken k6 script from passing CI.
import { describe, expect, it } from '@jest/globals';
import { checkOptions } from '../compat/options.ts';
import { run } from '../compat/state.ts';

describe('k6 options check', () => {
  it('accepts arrival-rate scenarios with thresholds on built-in metrics, and names the exec function', () => {
    const checked = checkOptions({
      scenarios: {
        ramp: { executor: 'ramping-arrival-rate', startRate: 10, timeUnit: '1s', preAllocatedVUs: 5, maxVUs: 50, stages: [{ duration: '1m30s', target: 100 }] },
        flat: { executor: 'constant-arrival-rate', rate: 10, duration: '30s', preAllocatedVUs: 5, exec: 'other' },
      },
      thresholds: { http_req_duration: ['p(99)<100'], 'http_req_duration{name:track-1}': ['p(95)<50'], http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '10s' }] },
      summaryTrendStats: ['p(99)'],
    }, run.metrics);
    expect(checked.problems).toEqual([]);
    expect(checked.scenarios).toEqual({ ramp: 'default', flat: 'other' });
    expect(checked.thresholds.map((threshold) => threshold.source)).toEqual(['p(99)<100', 'p(95)<50', 'rate<0.01']);
  });

  it('a script without scenarios runs its default function', () => {
    expect(checkOptions({ vus: 2, duration: '3s' }, run.metrics)).toMatchObject({ problems: [], scenarios: { default: 'default' } });
  });

  it('lists every problem: unknown option and executor, missing and unknown fields, bad durations, thresholds that do not parse or name no metric', () => {
    const { problems } = checkOptions({
      treshold: {},
      scenarios: {
        a: { executor: 'ramping-arrival-rate', stages: [{ duration: '10 seconds', target: 5 }] },
        b: { executor: 'constant-arrival-rate', rate: 1.5, duration: '1s', preAllocatedVUs: 10, maxVUs: 2, vus: 3 },
        c: { executor: 'open-model' },
      },
      thresholds: { http_req_duration: ['p99<100'], sluice_evnts: ['count>0'] },
    }, run.metrics);
    expect(problems).toEqual([
      'options.treshold is not a k6 option',
      'options.scenarios.a: ramping-arrival-rate needs preAllocatedVUs',
      'options.scenarios.a.stages[0].duration: not a k6 duration: "10 seconds"',
      'options.scenarios.b.vus is not a field of the constant-arrival-rate executor',
      'options.scenarios.b.rate must be a whole number ≥ 0, not 1.5',
      'options.scenarios.b: maxVUs (2) is below preAllocatedVUs (10)',
      expect.stringContaining('options.scenarios.c.executor "open-model" is not a k6 executor'),
      'threshold on http_req_duration: "p99<100" does not parse as <aggregation> <operator> <number>',
      'threshold on sluice_evnts: there is no metric sluice_evnts (built-in, or created in the init context)',
    ]);
  });
});
