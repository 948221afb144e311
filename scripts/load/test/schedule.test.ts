// The open model's schedule: requests due by a time under constant and ramping rates, as k6's
// arrival-rate executors schedule them.
import { describe, expect, it } from '@jest/globals';
import { rateSegments } from '../../../load-tests/lib/scenario.js';
import { arrivalsBy, scheduleDurationMs, segmentAt } from '../runner/schedule.ts';

describe('arrival schedule', () => {
  it('a constant rate is due linearly: 100/s is 50 requests after 0.5 s and 300 at the end of 3 s', () => {
    const segments = rateSegments({ executor: 'constant-arrival-rate', rate: 100, timeUnit: '1s', duration: '3s', preAllocatedVUs: 1, maxVUs: 1 });
    expect(scheduleDurationMs(segments)).toBe(3000);
    expect(arrivalsBy(segments, 500)).toBeCloseTo(50);
    expect(arrivalsBy(segments, 3000)).toBeCloseTo(300);
    expect(arrivalsBy(segments, 10_000)).toBeCloseTo(300);
  });

  it('a ramp is the integral of its linear rate; timeUnit scales rates (60 per minute is 1/s)', () => {
    const segments = rateSegments({ executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1m', stages: [{ duration: '10s', target: 600 }, { duration: '10s', target: 600 }], preAllocatedVUs: 1, maxVUs: 1 });
    expect(segments).toEqual([{ durationMs: 10_000, fromPerS: 0, toPerS: 10 }, { durationMs: 10_000, fromPerS: 10, toPerS: 10 }]);
    // 0 → 10/s over 10 s: 50 requests, a quarter of them in the first half.
    expect(arrivalsBy(segments, 5000)).toBeCloseTo(12.5);
    expect(arrivalsBy(segments, 10_000)).toBeCloseTo(50);
    expect(arrivalsBy(segments, 20_000)).toBeCloseTo(150);
  });

  it('finds the segment a time falls in, the last one past the end', () => {
    const segments = rateSegments({ executor: 'ramping-arrival-rate', startRate: 1, timeUnit: '1s', stages: [{ duration: '1s', target: 1 }, { duration: '2s', target: 5 }], preAllocatedVUs: 1, maxVUs: 1 });
    expect([0, 999, 1000, 2999, 3000, 9999].map((ms) => segmentAt(segments, ms))).toEqual([0, 0, 1, 1, 1, 1]);
  });
});
