// Runs one k6 script once, as k6 would run it but for a single iteration: the init context
// (with __ENV, open()), option checks, setup(), one iteration of each scenario's exec function,
// teardown(), handleSummary(data). Returns every problem found: a failed check, a failed
// request, options or thresholds k6 would refuse, an unsupported API, a throw.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { SCENARIOS_DIR, validateScenario, validateTemplates } from '../scenario-files.ts';
import { validateSummary } from '../summary.ts';
import { registerK6Modules } from './hooks.ts';
import { checkOptions } from './options.ts';
import { addSample, K6CompatError, run } from './state.ts';
import { summaryData } from './summary.ts';

export interface ScriptRun {
  problems: string[];
  /** Files handleSummary asked for, as written (under outDir). */
  outputs: string[];
  /** What handleSummary sent to stdout. */
  stdout: string;
}

type ScriptModule = Record<string, unknown>;

/**
 * k6's open(path): the file's text (or, with 'b', its bytes), relative to the script's
 * directory. Scenario files under load-tests/scenarios/ are checked against their schema here,
 * as every runner checks them.
 */
function open(path: string, mode?: string): string | ArrayBuffer {
  if (run.phase !== 'init') throw new K6CompatError('open() is only allowed in the init context');
  const file = resolve(run.scriptDir, path);
  const bytes = readFileSync(file);
  if (mode === 'b') return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const text = bytes.toString('utf8');
  if (dirname(file) === SCENARIOS_DIR && file.endsWith('.json')) {
    const parsed = JSON.parse(text) as unknown;
    if (file.endsWith(`${sep}templates.json`)) validateTemplates(parsed, file);
    else if (!file.endsWith(`${sep}scenario.schema.json`)) validateScenario(parsed, file);
  }
  return text;
}

function installGlobals(env: Record<string, string>): void {
  Object.assign(globalThis, { __ENV: env, __VU: 0, __ITER: 0, open });
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
}

/** Calls an exported lifecycle function, awaiting it if it returns a promise (k6 allows async functions). */
async function call(module: ScriptModule, name: string, ...args: unknown[]): Promise<unknown> {
  const fn = module[name];
  if (typeof fn !== 'function') throw new K6CompatError(`${name} is not an exported function`);
  return await (fn as (...args: unknown[]) => unknown)(...args);
}

function writeOutputs(result: Record<string, unknown>, outDir: string, runResult: ScriptRun): void {
  for (const [target, content] of Object.entries(result)) {
    const text = typeof content === 'string' ? content : content instanceof ArrayBuffer ? Buffer.from(content).toString('utf8') : undefined;
    if (text === undefined) {
      runResult.problems.push(`handleSummary: the value for ${target} is not a string`);
      continue;
    }
    if (target === 'stdout' || target === 'stderr') {
      runResult.stdout += text;
      continue;
    }
    const file = isAbsolute(target) ? target : join(outDir, target);
    if (relative(outDir, file).startsWith('..')) {
      runResult.problems.push(`handleSummary: ${target} is outside the output directory`);
      continue;
    }
    if (file.endsWith('.json')) {
      try {
        const parsed = JSON.parse(text) as { format?: unknown };
        if (parsed.format === 'sluice-load-summary/1') validateSummary(parsed, `handleSummary's ${target}`);
      } catch (error) {
        runResult.problems.push(`handleSummary: ${target}: ${message(error)}`);
        continue;
      }
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    runResult.outputs.push(file);
  }
}

/**
 * Runs `scriptPath` once against whatever its __ENV points at (`env`); handleSummary's files go
 * under `outDir`. Call once per process: a script's module state and metrics are not reset.
 */
export async function runScript(scriptPath: string, env: Record<string, string>, outDir: string): Promise<ScriptRun> {
  const result: ScriptRun = { problems: [], outputs: [], stdout: '' };
  const absolute = resolve(scriptPath);
  run.scriptDir = dirname(absolute);
  run.env = env;
  registerK6Modules();
  installGlobals(env);

  let module: ScriptModule;
  try {
    module = (await import(pathToFileURL(absolute).href)) as ScriptModule;
  } catch (error) {
    result.problems.push(`the init context threw: ${message(error)}`);
    return result;
  }
  const options = checkOptions(module['options'], run.metrics);
  result.problems.push(...options.problems);
  if (result.problems.length > 0) return result;

  const started = performance.now();
  run.phase = 'vu';
  let data: unknown;
  try {
    if (typeof module['setup'] === 'function') data = await call(module, 'setup');
    for (const [scenario, exec] of Object.entries(options.scenarios)) {
      if (typeof module[exec] !== 'function') {
        result.problems.push(`scenario ${scenario}: its exec function ${exec} is not exported`);
        continue;
      }
      Object.assign(globalThis, { __VU: 1, __ITER: 0 });
      const iterationStarted = performance.now();
      try {
        await call(module, exec, data);
      } catch (error) {
        result.problems.push(`scenario ${scenario}: the iteration threw: ${message(error)}`);
      }
      addSample('iterations', 1);
      addSample('iteration_duration', performance.now() - iterationStarted);
    }
    if (typeof module['teardown'] === 'function') await call(module, 'teardown', data);
  } catch (error) {
    result.problems.push(`setup or teardown threw: ${message(error)}`);
  }
  for (const check of run.checks) if (!check.ok) result.problems.push(`check "${check.name}" failed`);
  for (const failed of run.failedRequests) result.problems.push(`request ${failed}`);

  const summary = summaryData(options.thresholds, options.summaryTrendStats, performance.now() - started);
  if (typeof module['handleSummary'] === 'function') {
    try {
      const outputs = await call(module, 'handleSummary', summary);
      if (outputs === null || typeof outputs !== 'object') result.problems.push('handleSummary returned no object of outputs');
      else writeOutputs(outputs as Record<string, unknown>, outDir, result);
    } catch (error) {
      result.problems.push(`handleSummary threw: ${message(error)}`);
    }
  }
  return result;
}
