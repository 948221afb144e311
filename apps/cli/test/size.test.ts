import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { isSluiceError } from '@sluice/core';
import { size, type SizeInput, type Sizing } from '../src/sizing/model.ts';
import { readResults, type Coefficients } from '../src/sizing/results.ts';
import { buildProgram } from '../src/program.ts';

// Per-event costs of the shape a capacity run measures (the model is tested on its own;
// `sluice size` itself reads them from load-tests/results).
const COEFFICIENTS: Coefficients = {
  apiCpuSecondsPerEvent: 0.0004,
  workerCpuSecondsPerEvent: 0.0002,
  elasticsearchCpuSecondsPerEvent: 0.0003,
  storedBytesPerEvent: 600,
  busBytesPerEvent: 900,
  redisBytesPerKey: 120,
  eventBytes: 450,
};

const INPUT: SizeInput = {
  eventsPerSecond: 1000,
  eventBytes: 450,
  retentionDays: 90,
  warmAfterDays: 2,
  coldAfterDays: 14,
  replicas: 1,
  busRetentionDays: 7,
  busCopies: 2,
  apiCores: 1,
  workerCores: 1,
  nodeCores: 8,
  nodeDiskBytes: 2048 * 1024 ** 3,
  eventsPerSession: 10,
  sessionTtlSeconds: 1800,
  profileTtlSeconds: 3600,
  poolSize: 5,
  poolOverflow: 2,
};

/** Every number of a sizing, by path, for comparing two loads. */
function figures(sizing: Sizing): Record<string, number> {
  const flat: Record<string, number> = {};
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'number') flat[path] = value;
    else if (typeof value === 'object' && value !== null) for (const [key, inner] of Object.entries(value)) walk(inner, path === '' ? key : `${path}.${key}`);
  };
  walk(sizing, '');
  return flat;
}

describe('the sizing model', () => {
  it('never asks for fewer resources for more load (1k, 10k, 100k events/s and steps between)', () => {
    const loads = [1000, 2500, 10_000, 33_000, 100_000, 250_000];
    const sizings = loads.map((eventsPerSecond) => figures(size({ ...INPUT, eventsPerSecond }, COEFFICIENTS)));
    for (let at = 1; at < sizings.length; at += 1) {
      for (const [path, value] of Object.entries(sizings[at]!)) expect({ path, load: loads[at], value }).toEqual({ path, load: loads[at], value: Math.max(value, sizings[at - 1]![path]!) });
    }
    const [small, , medium, , large] = sizings;
    expect(large!['apiReplicas']).toBeGreaterThan(medium!['apiReplicas']!);
    expect(medium!['apiReplicas']).toBeGreaterThan(small!['apiReplicas']!);
    expect(large!['hot.diskBytes']).toBeCloseTo(small!['hot.diskBytes']! * 100, -6);
  });

  it('keeps the floors: two of each replica kind, four partitions, a shard copy per hot node', () => {
    const tiny = size({ ...INPUT, eventsPerSecond: 1 }, COEFFICIENTS);
    expect(tiny).toMatchObject({ apiReplicas: 2, workers: 2, partitions: 4, primaryShards: 1 });
    expect(tiny.hot.dataNodes).toBe(2);
    expect(size({ ...INPUT, eventsPerSecond: 1, replicas: 2 }, COEFFICIENTS).hot.dataNodes).toBe(3);
  });

  it('sizes from the measured costs: CPU per event over the cores at 60 %, bytes per event over the retention', () => {
    const sizing = size({ ...INPUT, eventsPerSecond: 10_000 }, COEFFICIENTS);
    // 10,000 events/s × 0.4 ms of API CPU = 4 cores, at 60 % of 1 core each: 7 replicas.
    expect(sizing.apiReplicas).toBe(7);
    expect(sizing.workers).toBe(4);
    expect(sizing.partitions).toBe(4);
    // 10,000 × 86,400 s × 600 bytes = 518.4 GB a day: 17 shards of at most 30 GiB.
    expect(sizing.dailyPrimaryBytes).toBe(10_000 * 86_400 * 600);
    expect(sizing.primaryShards).toBe(Math.ceil((10_000 * 86_400 * 600) / (30 * 1024 ** 3)));
    // Hot: the day being written and 2 more; warm until day 15; cold until day 90.
    expect([sizing.hot.days, sizing.warm.days, sizing.cold.days]).toEqual([3, 12, 75]);
    expect(sizing.hot.diskBytes).toBe(Math.ceil((10_000 * 86_400 * 600 * 3 * 2) / 0.85));
    // Twice the bytes per event, twice the disk.
    expect(size({ ...INPUT, eventsPerSecond: 10_000, eventBytes: 900 }, COEFFICIENTS).cold.diskBytes).toBeCloseTo(sizing.cold.diskBytes * 2, -3);
    expect(sizing.mysqlConnections).toBe((7 + 4 + 3) * 7);
  });

  it('passes skipped lifecycle phases on to the next tier', () => {
    const noWarm = size({ ...INPUT, warmAfterDays: 0 }, COEFFICIENTS);
    expect([noWarm.hot.days, noWarm.warm.days, noWarm.cold.days]).toEqual([15, 0, 75]);
    const hotOnly = size({ ...INPUT, warmAfterDays: 0, coldAfterDays: 0, retentionDays: 30 }, COEFFICIENTS);
    expect([hotOnly.hot.days, hotOnly.warm.days, hotOnly.cold.days]).toEqual([30, 0, 0]);
  });
});

describe('capacity results files', () => {
  it('refuses a file without a measured coefficient, naming the file and the field', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-size-')), 'results.json');
    writeFileSync(file, JSON.stringify({ format: 'sluice-capacity/1', coefficients: {} }));
    let error: unknown;
    try {
      readResults(file);
    } catch (caught) {
      error = caught;
    }
    expect(isSluiceError(error) && error.code === 'CONFIG_INVALID').toBe(true);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain('apiCpuSecondsPerEvent');
  });

  it('sluice size prints which run its figures come from, and --json the same numbers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-size-'));
    const file = join(dir, '2026-12-01-2c.json');
    writeFileSync(file, JSON.stringify({
      format: 'sluice-capacity/1', date: '2026-12-01T23:00:00.000Z', machine: { cores: 2, cpuModel: 'test', memoryBytes: 1 }, versions: {}, topology: { apiReplicas: 2, workers: 2, partitions: 4 }, settings: {},
      scenario: { name: 'capacity', eventsPerRequest: 1 },
      figures: { eventsPerSecond: 3000, requestsPerSecond: 3000, sustainedSeconds: 60, p50Ms: 5, p99Ms: 80, endToEndP99Ms: 900, errors: 0, lost: 0, duplicated: 0 },
      coefficients: COEFFICIENTS,
    }));
    const lines: string[] = [];
    await buildProgram((line) => lines.push(line)).exitOverride().parseAsync(['size', '--events-per-second', '10000', '--retention-days', '90', '--results', file], { from: 'user' });
    expect(lines.join('\n')).toMatch(/API replicas\s+7/);
    expect(lines.at(-1)).toContain(file);
    const json: string[] = [];
    await buildProgram((line) => json.push(line)).exitOverride().parseAsync(['size', '--events-per-second', '10000', '--retention-days', '90', '--results', file, '--json'], { from: 'user' });
    expect(JSON.parse(json.join('\n'))).toMatchObject({ sizing: { apiReplicas: 7, workers: 4 }, measured: { file } });
  });
});
