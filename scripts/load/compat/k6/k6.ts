// The `k6` module for the compatibility runner: check, group, sleep, fail. Others fail by name.
import { addSample, K6CompatError, run } from '../state.ts';

/** Longest real pause of sleep(): one iteration checks the script, not its pacing. */
const MAX_SLEEP_MS = 1000;

/** k6's check(): runs each named predicate on `value`, records it, and is true when all held (tags are not kept). */
export function check<T>(value: T, predicates: Record<string, (value: T) => unknown>): boolean {
  if (run.phase === 'init') throw new K6CompatError('check() is not allowed in the init context');
  let all = true;
  for (const [name, predicate] of Object.entries(predicates)) {
    let ok: boolean;
    try {
      ok = Boolean(predicate(value));
    } catch (error) {
      // k6 counts a throwing predicate as an exception of the iteration, not a failed check.
      throw new K6CompatError(`check "${name}" threw: ${(error as Error).message}`, { cause: error });
    }
    run.checks.push({ name, path: `${run.groupPath.map((group) => `::${group}`).join('')}::${name}`, ok });
    addSample('checks', ok ? 1 : 0);
    all &&= ok;
  }
  return all;
}

/** k6's group(): runs `body` under the group name (check paths carry it) and returns its value. */
export function group<T>(name: string, body: () => T): T {
  run.groupPath.push(name);
  try {
    return body();
  } finally {
    run.groupPath.pop();
  }
}

/** k6's sleep(seconds): blocks, capped at MAX_SLEEP_MS. */
export function sleep(seconds: number): void {
  if (typeof seconds !== 'number' || !(seconds >= 0)) throw new K6CompatError(`sleep(${String(seconds)}): seconds must be a number ≥ 0`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(seconds * 1000, MAX_SLEEP_MS));
}

/** k6's fail(): aborts the iteration with `message`. */
export function fail(message?: string): never {
  throw new Error(`fail(): ${message ?? ''}`);
}

/** k6's randomSeed(): one iteration checks no randomness, so the seed is not used. */
export function randomSeed(): void {}

export default { check, group, sleep, fail, randomSeed };
