import { Command } from 'commander';
import { loadConfig, renderConfigurationDoc, secretValues } from '@sluice/config';
import { createLogger } from '@sluice/observability';
import { initEngines } from '@sluice/wiring';
import { registerConfigCheck } from './config-check.ts';
import { registerDlqCommands } from './dlq.ts';
import { registerEventTypeCommands } from './event-types.ts';
import { registerSize } from './size.ts';
import { registerSourceCommands } from './sources.ts';
import { startAllInOne } from './start.ts';

/** The `sluice` command line. */
export function buildProgram(print: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Command {
  const program = new Command('sluice').description('Sluice event ingestion').showHelpAfterError();
  program.command('start').description('run init, API, storage worker and jobs in one process (one machine)').action(startAllInOne);
  program.command('api').description('run the HTTP API alone (waits for `sluice init`)').action(async () => {
    await import('@sluice/api/main');
  });
  program.command('worker').description('run a storage worker alone (waits for `sluice init`)').action(async () => {
    await import('@sluice/worker/main');
  });
  program.command('jobs').description('run the maintenance jobs alone: lifecycle, snapshots, dead-letter replay (waits for `sluice init`)').action(async () => {
    await import('@sluice/jobs-app/main');
  });
  program
    .command('init')
    .description('create or update indices, templates, mappings, policies, topics and subscriptions of the configured engines (idempotent; run it before api, worker and jobs, and on every upgrade)')
    .action(async () => {
      const parsed = loadConfig();
      for (const line of await initEngines(parsed, createLogger(parsed.logging.level, { secrets: secretValues() }))) print(line);
    });
  const config = program.command('config').description('configuration');
  registerConfigCheck(config, print);
  config.command('docs').description('print docs/configuration.md').action(() => print(renderConfigurationDoc()));
  registerSourceCommands(program, print);
  registerEventTypeCommands(program, print);
  registerDlqCommands(program, print);
  registerSize(program, print);
  return program;
}
