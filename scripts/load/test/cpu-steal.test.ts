// The steal share printed beside benchmark and capacity figures: read from the aggregate
// `cpu` line of /proc/stat, never from a per-core line, and guest time not counted twice.
import { describe, expect, it } from '@jest/globals';
import { cpuTimes, describeSteal, parseCpuTimes, stealBetween, stealMeter } from '../cpu-steal.ts';

const stat = (user: number, idle: number, steal: number, guest = 0) =>
  `cpu  ${String(user)} 0 100 ${String(idle)} 10 0 5 ${String(steal)} ${String(guest)} 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 12345\n`;

describe('CPU steal', () => {
  it('reads the aggregate line: every state up to steal, steal apart, guest left out', () => {
    expect(parseCpuTimes(stat(1000, 800, 85, 400))).toEqual({ total: 1000 + 100 + 800 + 10 + 5 + 85, steal: 85 });
    expect(parseCpuTimes('cpu0 1 2 3 4 5 6 7 8\n')).toBeUndefined();
  });

  it('gives the share of the time between two readings that the host took', () => {
    const before = parseCpuTimes(stat(1000, 1000, 0));
    const after = parseCpuTimes(stat(1600, 1200, 200));
    expect(stealBetween(before, after)).toBeCloseTo(200 / 1000, 5);
    expect(describeSteal(stealBetween(before, after))).toBe('steal 20 %');
    expect(stealBetween(after, before)).toBeUndefined();
    expect(describeSteal(undefined)).toBe('steal unknown');
  });

  (process.platform === 'linux' ? it : it.skip)('reads this machine (Linux only: elsewhere there is no /proc/stat and it gives undefined)', () => {
    const now = cpuTimes();
    expect(now?.total).toBeGreaterThan(0);
    expect(now!.steal).toBeLessThanOrEqual(now!.total);
    // Busy for a moment, so the machine's counters move: a share, never outside 0–1.
    const stolen = stealMeter();
    for (const end = Date.now() + 200; Date.now() < end; );
    expect(stolen()).toBeGreaterThanOrEqual(0);
    expect(stolen()).toBeLessThanOrEqual(1);
  });
});
