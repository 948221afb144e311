import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { Command } from 'commander';
import { loadConfig, redactedConfig, SPECS, type Config, type Environment } from '@sluice/config';
import { isSluiceError, SluiceError } from '@sluice/core';

/**
 * `sluice config check [--env-file FILE]`: validates the process environment, or an env file
 * alone, with the loader every process uses (`loadConfig`), and prints the resulting
 * configuration with secrets redacted. Exits non-zero (through the CLI's error handler) with
 * CONFIG_INVALID listing every problem.
 */
export function registerConfigCheck(config: Command, print: (line: string) => void): void {
  config
    .command('check')
    .description('validate the environment, or with --env-file an env file alone, and print the resulting configuration (secrets and URL credentials redacted)')
    .option('--env-file <file>', 'check this env file (KEY=value lines) as the whole environment, as a container given only this file starts; names that are not Sluice settings are refused')
    .action((options: { envFile?: string }) => {
      const environment = options.envFile === undefined ? process.env : readEnvFile(options.envFile);
      const parsed = options.envFile === undefined ? loadConfig(environment) : checkEnvFile(environment);
      print(JSON.stringify(redactedConfig(parsed, environment), null, 2));
    });
}

/**
 * An env file's variables, parsed by Node's own env-file parser (the one `node --env-file`
 * uses). An unreadable file is a CONFIG_INVALID naming it.
 */
export function readEnvFile(path: string): Environment {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SluiceError('CONFIG_INVALID', `invalid configuration: cannot read env file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  return parseEnv(text);
}

/**
 * The configuration a process would load from exactly these variables, or CONFIG_INVALID
 * listing every problem: each invalid value (as `loadConfig` reports it) and, since a file
 * holds only settings meant for Sluice, each name that is not a Sluice setting (a typo
 * there would otherwise be silently ignored by the process).
 */
export function checkEnvFile(environment: Environment): Config {
  const unknown = Object.keys(environment)
    .filter((name) => !Object.hasOwn(SPECS, name))
    .map((name) => `${name}: not a Sluice setting (docs/configuration.md lists them)`);
  let loaded: Config | undefined;
  const problems = [...unknown];
  try {
    loaded = loadConfig(environment);
  } catch (error) {
    if (!isSluiceError(error) || error.code !== 'CONFIG_INVALID') throw error;
    problems.push(...error.details.map((detail) => detail.message));
  }
  if (problems.length > 0 || loaded === undefined) {
    throw new SluiceError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: problems.map((problem) => ({ path: problem.split(':')[0] ?? '', message: problem })),
    });
  }
  return loaded;
}
