import type { Command } from 'commander';
import { loadConfig } from '@sluice/config';
import { DLQ_REPLAY_JOB, defineDlqReplay, type ReplayJobResult } from '@sluice/jobs-app';
import { createLogger } from '@sluice/observability';
import { closeAdapters, createAdapters } from '@sluice/wiring';

type Print = (line: string) => void;

/**
 * `sluice dlq replay`: put dead letters back on the events topic once their cause is fixed.
 * It runs as the `dlq-replay` job: with JOBS_ADAPTER=bullmq, once across the cluster (a
 * replay already running elsewhere finishes first), in whichever replica takes it.
 */
export function registerDlqCommands(program: Command, print: Print): void {
  const dlq = program.command('dlq').description('dead letters (events that could not be stored, with reasons)');
  dlq
    .command('replay')
    .description('move dead letters back to the events topic (embedded bus: stop Sluice first, it owns DATA_DIR)')
    .option('--limit <n>', 'most dead letters to replay', '1000000')
    .option('--idle <ms>', 'stop when no dead letter arrived for this long', '2000')
    .option('--dry-run', 'print what would be replayed; change nothing')
    .action(async (opts: { limit: string; idle: string; dryRun?: boolean }) => {
      const config = loadConfig();
      const logger = createLogger('error');
      const adapters = await createAdapters(config, logger, ['bus', 'jobs']);
      try {
        defineDlqReplay(adapters.jobs, adapters.bus);
        const result = (await adapters.jobs.runNow(DLQ_REPLAY_JOB, { limit: Number(opts.limit), idleMs: Number(opts.idle), dryRun: opts.dryRun === true })) as ReplayJobResult;
        for (const line of result.letters) print(line);
        if (result.lettersOmitted > 0) print(JSON.stringify({ lettersOmitted: result.lettersOmitted }));
        print(JSON.stringify({ replayed: result.replayed, skipped: result.skipped }));
      } finally {
        await closeAdapters(adapters);
      }
    });
}
