// The results file `npm run load:capacity` writes (load-tests/results/<date>-<cores>c.json)
// and `sluice size` reads: what was measured, on what, and the per-event coefficients the
// sizing model multiplies. Validated whole when read, so a hand-edited or older file is
// refused by name instead of sizing from a missing figure.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { SluiceError } from '@sluice/core';

export const RESULTS_FORMAT = 'sluice-capacity/1';

/** Per-event costs measured while the capacity rate was held. */
export interface Coefficients {
  /** CPU seconds all API replicas used per event accepted. */
  readonly apiCpuSecondsPerEvent: number;
  /** CPU seconds all storage workers used per event stored. */
  readonly workerCpuSecondsPerEvent: number;
  /** CPU seconds Elasticsearch used per event stored (one copy: the run has no replicas). */
  readonly elasticsearchCpuSecondsPerEvent: number;
  /** Bytes of Elasticsearch primary store per event (after refresh; one copy, no replicas). */
  readonly storedBytesPerEvent: number;
  /** Bytes of Pulsar topic storage per event (one copy). */
  readonly busBytesPerEvent: number;
  /** Redis memory per cached key (session binding or profile entry), in bytes. */
  readonly redisBytesPerKey: number;
  /** Average bytes of one event as sent by the load generator. */
  readonly eventBytes: number;
}

export interface CapacityResults {
  readonly format: typeof RESULTS_FORMAT;
  /** When the run ended (ISO 8601). */
  readonly date: string;
  readonly machine: { readonly cores: number; readonly cpuModel: string; readonly memoryBytes: number };
  readonly versions: Readonly<Record<string, string>>;
  readonly topology: { readonly apiReplicas: number; readonly workers: number; readonly partitions: number };
  /** The Sluice settings of every process, secrets left out. */
  readonly settings: Readonly<Record<string, string>>;
  readonly scenario: { readonly name: string; readonly eventsPerRequest: number };
  readonly figures: {
    readonly eventsPerSecond: number;
    readonly requestsPerSecond: number;
    readonly sustainedSeconds: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly endToEndP99Ms: number;
    readonly errors: number;
    /** Share of the machine's CPU time its host took during the hold (0–1; runs since 2026-12-02, on Linux). */
    readonly stealFraction?: number;
    readonly lost: number;
    readonly duplicated: number;
  };
  readonly coefficients: Coefficients;
}

const positive = { type: 'number', exclusiveMinimum: 0 };
const count = { type: 'integer', minimum: 0 };
const schema = {
  type: 'object',
  required: ['format', 'date', 'machine', 'versions', 'topology', 'settings', 'scenario', 'figures', 'coefficients'],
  properties: {
    format: { const: RESULTS_FORMAT },
    date: { type: 'string', minLength: 10 },
    machine: { type: 'object', required: ['cores', 'cpuModel', 'memoryBytes'], properties: { cores: count, cpuModel: { type: 'string' }, memoryBytes: count } },
    versions: { type: 'object', additionalProperties: { type: 'string' } },
    topology: { type: 'object', required: ['apiReplicas', 'workers', 'partitions'], properties: { apiReplicas: count, workers: count, partitions: count } },
    settings: { type: 'object', additionalProperties: { type: 'string' } },
    scenario: { type: 'object', required: ['name', 'eventsPerRequest'], properties: { name: { type: 'string' }, eventsPerRequest: positive } },
    figures: {
      type: 'object',
      required: ['eventsPerSecond', 'requestsPerSecond', 'sustainedSeconds', 'p50Ms', 'p99Ms', 'endToEndP99Ms', 'errors', 'lost', 'duplicated'],
      properties: { eventsPerSecond: positive, requestsPerSecond: positive, sustainedSeconds: count, p50Ms: { type: 'number' }, p99Ms: { type: 'number' }, endToEndP99Ms: { type: 'number' }, errors: count, stealFraction: { type: 'number', minimum: 0, maximum: 1 }, lost: count, duplicated: count },
    },
    coefficients: {
      type: 'object',
      required: ['apiCpuSecondsPerEvent', 'workerCpuSecondsPerEvent', 'elasticsearchCpuSecondsPerEvent', 'storedBytesPerEvent', 'busBytesPerEvent', 'redisBytesPerKey', 'eventBytes'],
      properties: { apiCpuSecondsPerEvent: positive, workerCpuSecondsPerEvent: positive, elasticsearchCpuSecondsPerEvent: positive, storedBytesPerEvent: positive, busBytesPerEvent: positive, redisBytesPerKey: positive, eventBytes: positive },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true }).compile<CapacityResults>(schema);

/** The committed results: load-tests/results of this checkout. */
export const RESULTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../load-tests/results');

/** One results file, validated; CONFIG_INVALID naming the file and what is wrong. */
export function readResults(file: string): CapacityResults {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SluiceError('CONFIG_INVALID', `cannot read capacity results ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map((problem) => `${problem.instancePath || '/'} ${problem.message ?? 'is invalid'}`).join('; ');
    throw new SluiceError('CONFIG_INVALID', `capacity results ${file} are not ${RESULTS_FORMAT}: ${problems}`);
  }
  return value;
}

/** Results of the one-event `capacity` scenario: `<date>-<cores>c.json` (other scenarios' runs add `-<scenario>`). */
const CAPACITY_RESULTS = /^\d{4}-\d{2}-\d{2}-\d+c\.json$/;

/** The newest capacity-scenario results file of `dir`, or CONFIG_INVALID when there is none. */
export function newestResults(dir: string = RESULTS_DIR): { file: string; results: CapacityResults } {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => CAPACITY_RESULTS.test(name)).sort();
  } catch {
    names = [];
  }
  const newest = names.at(-1);
  if (newest === undefined) throw new SluiceError('CONFIG_INVALID', `no capacity results in ${dir}: run \`npm run load:capacity\` (or pass --results FILE)`);
  const file = join(dir, newest);
  return { file, results: readResults(file) };
}
