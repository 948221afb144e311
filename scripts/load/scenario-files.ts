// Reads and validates scenario files (load-tests/scenarios/*.json) and the shared request
// templates against load-tests/scenarios/scenario.schema.json: every Node runner goes
// through here, so a scenario that does not match the schema never runs.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Scenario } from '../../load-tests/lib/scenario.js';
import type { Templates } from '../../load-tests/lib/payload.js';

/** load-tests/scenarios, where the scenarios, the templates and the schema live. */
export const SCENARIOS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../load-tests/scenarios');
const SCHEMA_ID = 'https://sluice.dev/load-tests/scenario.schema.json';

let validators: { scenario: ValidateFunction; templates: ValidateFunction } | undefined;

function compiled(): { scenario: ValidateFunction; templates: ValidateFunction } {
  if (validators === undefined) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    ajv.addSchema(JSON.parse(readFileSync(join(SCENARIOS_DIR, 'scenario.schema.json'), 'utf8')) as object);
    validators = { scenario: ajv.getSchema(SCHEMA_ID)!, templates: ajv.getSchema(`${SCHEMA_ID}#/definitions/templates`)! };
  }
  return validators;
}

/** Thrown when a scenario or templates file does not match the schema; the message lists every problem. */
export class ScenarioFileError extends Error {
  override name = 'ScenarioFileError';
}

function check(validate: ValidateFunction, value: unknown, file: string): void {
  if (validate(value)) return;
  const problems = (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
  throw new ScenarioFileError(`${file} does not match load-tests/scenarios/scenario.schema.json:\n  ${problems.join('\n  ')}`);
}

/** Validates parsed JSON as a scenario (`file` names it in the error). */
export function validateScenario(value: unknown, file: string): Scenario {
  check(compiled().scenario, value, file);
  return value as Scenario;
}

/** Validates parsed JSON as the request templates. */
export function validateTemplates(value: unknown, file: string): Templates {
  check(compiled().templates, value, file);
  return value as Templates;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new ScenarioFileError(`${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A scenario by name (`capacity`) or path, validated, with the shared templates; throws when a
 * request names a template that does not exist.
 */
export function loadScenario(nameOrPath: string): { scenario: Scenario; templates: Templates; file: string } {
  const file = nameOrPath.endsWith('.json') ? resolve(nameOrPath) : join(SCENARIOS_DIR, `${nameOrPath}.json`);
  const scenario = validateScenario(readJson(file), file);
  const templatesFile = join(SCENARIOS_DIR, 'templates.json');
  const templates = validateTemplates(readJson(templatesFile), templatesFile);
  for (const request of scenario.requests) {
    if (templates[request.template] === undefined) throw new ScenarioFileError(`${file}: request ${request.name} names the unknown template ${request.template} (templates.json has ${Object.keys(templates).join(', ')})`);
  }
  return { scenario, templates, file };
}
