import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { checkEnvFile, readEnvFile } from '../src/config-check.ts';
import { sizeInput } from '../src/size.ts';
import { size } from '../src/sizing/model.ts';
import { newestResults } from '../src/sizing/results.ts';

// The env/ profiles and `sluice size` must agree: each profile provides at least what the
// calculator asks for at the rate the profile is written for, with the per-event costs of the
// newest committed capacity run. When a new run measures higher costs, this fails until the
// profiles (or the product) follow.

const ROOT = join(import.meta.dirname, '../../..');
const PROFILES = ['small', 'medium', 'large'] as const;
const MIB = 1024 ** 2;

/** The rate a profile is written for, from its first line ("… about 10,000 events/s at peak"). */
function profileRate(envText: string): number {
  const match = /about ([\d,]+) events\/s/.exec(envText.split('\n')[0] ?? '');
  if (match === null) throw new Error('the profile\'s first line names no "about N events/s"');
  return Number(match[1]!.replaceAll(',', ''));
}

/** A process kind's replicas (fixed, or the autoscaler's floor) and CPU request in cores, from the Helm values. */
function helmProcess(valuesText: string, kind: 'api' | 'worker'): { replicas: number; cores: number } {
  const block = new RegExp(`^${kind}:\\n((?:[ #].*\\n|\\n)*)`, 'm').exec(valuesText)?.[1] ?? '';
  const replicas = /minReplicas: (\d+)/.exec(block)?.[1] ?? /^ {2}replicas: (\d+)/m.exec(block)?.[1];
  const cpu = /requests: \{cpu: "?(\d+(?:\.\d+)?)(m?)"?/.exec(block);
  if (replicas === undefined || cpu === null) throw new Error(`no ${kind} replicas or CPU request in the Helm values`);
  return { replicas: Number(replicas), cores: Number(cpu[1]) / (cpu[2] === 'm' ? 1000 : 1) };
}

describe('env/ profiles against `sluice size`', () => {
  const { file, results } = newestResults(join(ROOT, 'load-tests/results'));

  it.each(PROFILES)('%s provides what `sluice size` asks for at its rate', (name) => {
    const envFile = join(ROOT, 'env', `${name}.env`);
    const envText = readFileSync(envFile, 'utf8');
    const values = readFileSync(join(ROOT, 'env', `${name}.values.yaml`), 'utf8');
    const settings = readEnvFile(envFile);
    const api = helmProcess(values, 'api');
    const worker = helmProcess(values, 'worker');
    const eventsPerSecond = profileRate(envText);
    const input = sizeInput({ eventsPerSecond, busCopies: 2, apiCores: api.cores, workerCores: worker.cores, nodeCores: 8, nodeDiskGb: 2048, eventsPerSession: 10 }, checkEnvFile(settings), results);
    const sizing = size(input, results.coefficients);
    const provided = {
      apiReplicas: api.replicas,
      workers: worker.replicas,
      partitions: Number(settings['PULSAR_TOPIC_PARTITIONS']),
      // The profiles promise a six-hour store outage fits the bus (their PULSAR_RETENTION_SIZE comment).
      busHours: (Number(settings['PULSAR_RETENTION_SIZE']) * MIB) / sizing.busBytesPerHour,
    };
    const asked = { apiReplicas: sizing.apiReplicas, workers: sizing.workers, partitions: sizing.partitions, busHours: 6 };
    const short = (Object.keys(asked) as (keyof typeof asked)[]).filter((key) => provided[key] < asked[key]).map((key) => `${key}: the profile provides ${provided[key].toFixed(1)}, \`sluice size\` asks ${String(asked[key])}`);
    expect({ profile: `${name} at ${String(eventsPerSecond)} events/s, sized from ${file}`, short }).toEqual({ profile: expect.any(String), short: [] });
  });
});
