// How much of the machine's CPU time its host took for other guests (Linux "steal") while a
// measurement ran. On a shared virtual machine, steal is why identical rounds differ: a run
// that saw 25 % steal measured a smaller machine than one that saw none. Benchmarks and the
// capacity run print it beside their figures.
import { readFileSync } from 'node:fs';

/** Jiffies of the aggregate `cpu` line of /proc/stat: all of them, and the stolen ones. */
export interface CpuTimes {
  readonly total: number;
  readonly steal: number;
}

/**
 * The aggregate `cpu` line of a /proc/stat text (user nice system idle iowait irq softirq
 * steal guest guest_nice, in jiffies); undefined when there is none. Guest time is already
 * counted in user and nice, so it is left out of the total.
 */
export function parseCpuTimes(procStat: string): CpuTimes | undefined {
  const line = /^cpu +([\d ]+)$/m.exec(procStat);
  if (!line) return undefined;
  const fields = line[1]!.trim().split(/\s+/).map(Number);
  const counted = fields.slice(0, 8);
  return { total: counted.reduce((sum, value) => sum + value, 0), steal: fields[7] ?? 0 };
}

/** This machine's CPU times now; undefined where /proc/stat cannot be read (not Linux). */
export function cpuTimes(): CpuTimes | undefined {
  try {
    return parseCpuTimes(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** The share of CPU time stolen between two readings (0–1); undefined without both. */
export function stealBetween(before: CpuTimes | undefined, after: CpuTimes | undefined): number | undefined {
  if (before === undefined || after === undefined || after.total <= before.total) return undefined;
  return Math.min(1, Math.max(0, (after.steal - before.steal) / (after.total - before.total)));
}

/** Starts measuring: the returned function gives the share stolen since (see stealBetween). */
export function stealMeter(): () => number | undefined {
  const start = cpuTimes();
  return () => stealBetween(start, cpuTimes());
}

/** "steal 24 %" for a log line, or "steal unknown". */
export function describeSteal(fraction: number | undefined): string {
  return fraction === undefined ? 'steal unknown' : `steal ${(fraction * 100).toFixed(0)} %`;
}
