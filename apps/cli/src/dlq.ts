import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '@sluice/config';
import { SluiceError } from '@sluice/core';
import {
  DLQ_REPLAY_JOB, LETTER_KINDS, defineDlqReplay, dlqJobData, listDeadLetters, showDeadLetter,
  type DlqJobRequest, type DlqJobResult, type LetterFilter, type LetterKind, type LetterSummary,
} from '@sluice/jobs-app';
import { createLogger } from '@sluice/observability';
import { closeAdapters, createAdapters, type Adapters } from '@sluice/wiring';

type Print = (line: string) => void;

interface FilterOptions {
  code?: string;
  kind?: LetterKind;
  id?: string[];
  idle: number;
}

const EMBEDDED_NOTE = 'embedded bus: stop Sluice first, it owns DATA_DIR';

/** A whole number ≥ 1, else commander reports the option as invalid. */
function positive(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return number;
}

const kindOption = () => new Option('--kind <kind>', 'only letters of this kind').choices(LETTER_KINDS);
const idleOption = () => new Option('--idle <ms>', 'stop reading once no dead letter older than the command arrived for this long').argParser(positive).default(2000);

function filterOf(options: FilterOptions): LetterFilter {
  return { ...(options.code === undefined ? {} : { code: options.code }), ...(options.kind === undefined ? {} : { kind: options.kind }), ...(options.id === undefined ? {} : { ids: options.id }) };
}

async function withAdapters<P extends 'bus' | 'jobs', T>(wanted: readonly P[], work: (adapters: Pick<Adapters, P>) => Promise<T>): Promise<T> {
  const adapters = await createAdapters(loadConfig(), createLogger('error'), wanted);
  try {
    return await work(adapters);
  } finally {
    await closeAdapters(adapters);
  }
}

/** One listing line: id, kind, code, attempts, failedAt, origin, reason (shortened). */
function line(letter: LetterSummary): string {
  return [letter.id, letter.kind, letter.code ?? '-', letter.attempts === undefined ? '-' : `${String(letter.attempts)}x`, letter.failedAt ?? '-', letter.origin ?? '-', letter.reason].join('  ');
}

/** Runs replay or drop as the `dlq-replay` job and prints its lines and totals. */
async function runAction(request: DlqJobRequest, print: Print): Promise<void> {
  await withAdapters(['bus', 'jobs'], async (adapters) => {
    defineDlqReplay(adapters.jobs, adapters.bus);
    const result = (await adapters.jobs.runNow(DLQ_REPLAY_JOB, dlqJobData(request))) as DlqJobResult;
    for (const letter of result.letters) print(letter);
    if (result.lettersOmitted > 0) print(JSON.stringify({ lettersOmitted: result.lettersOmitted }));
    const done = request.action === 'drop' ? 'dropped' : 'replayed';
    print(JSON.stringify({
      [request.dryRun ? `would be ${done}` : done]: result.acted,
      ...(request.action === 'replay' ? undecodableTotals(result.undecodable, request.force === true) : {}),
      kept: result.kept,
      later: result.later,
      ...(result.later > 0 ? { laterNote: 'dead-lettered after this run started (a replayed letter refused again among them): left for a later run' } : {}),
      ...(result.more ? { more: 'stopped with the most letters one run holds; run again' } : {}),
    }));
  });
}

/** What a replay's totals say of the letters the worker cannot decode. */
function undecodableTotals(undecodable: number, force: boolean): Record<string, unknown> {
  if (undecodable === 0) return { undecodable };
  if (force) return { undecodable, undecodableNote: 'replayed anyway (--force): the worker dead-letters them anew at once' };
  return { undecodable, undecodableNote: 'kept, not replayed: the worker would dead-letter them anew at once; drop them, or replay them with --force' };
}

/**
 * `sluice dlq list|show|replay|drop`: the dead letters (events and messages that could not be
 * stored, with their code and reason). list and show read them and leave them in place;
 * replay and drop run as the `dlq-replay` job: with JOBS_ADAPTER=bullmq, once across the
 * cluster (a run already going elsewhere finishes first), in whichever replica takes it.
 */
export function registerDlqCommands(program: Command, print: Print): void {
  const dlq = program.command('dlq').description(`dead letters: events and messages that could not be stored, with code and reason (${EMBEDDED_NOTE})`);
  dlq
    .command('list')
    .description('list the dead letters, oldest first, without consuming them')
    .option('--code <code>', 'only letters with this error code (e.g. STORE_REJECTED, MESSAGE_INVALID)')
    .addOption(kindOption())
    .option('--limit <n>', 'most letters to print', positive, 100)
    .option('--json', 'print one JSON document: letters, matched, seen, more')
    .addOption(idleOption())
    .action((options: FilterOptions & { limit: number; json?: boolean }) =>
      withAdapters(['bus'], async ({ bus }) => {
        const report = await listDeadLetters(bus, { filter: filterOf(options), limit: options.limit, idleMs: options.idle });
        if (options.json === true) return print(JSON.stringify(report));
        print(['id', 'kind', 'code', 'attempts', 'failedAt', 'origin', 'reason'].join('  '));
        for (const letter of report.letters) print(line(letter));
        print(`${String(report.letters.length)} of ${String(report.matched)} matching dead letters shown (${String(report.seen)} read)${report.more ? '; more follow beyond the most one run holds' : ''}`);
      }),
    );
  dlq
    .command('show <id>')
    .description('print one dead letter in full (JSON; a message payload as text where it is UTF-8)')
    .addOption(idleOption())
    .action((id: string, options: { idle: number }) =>
      withAdapters(['bus'], async ({ bus }) => {
        const letter = await showDeadLetter(bus, id, { idleMs: options.idle });
        if (letter === undefined) throw new SluiceError('NOT_FOUND', `no dead letter ${id} (sluice dlq list shows their ids)`);
        print(JSON.stringify(letter, null, 2));
      }),
    );
  dlq
    .command('replay')
    .description('republish matching dead letters that exist when it starts to the events topic, removing each once the republish is acknowledged (none given: all); letters the worker cannot decode stay unless --force')
    .option('--code <code>', 'only letters with this error code')
    .addOption(kindOption())
    .option('--id <id...>', 'only these letters')
    .option('--force', 'republish letters the worker cannot decode too (it dead-letters them anew at once)')
    .option('--dry-run', 'print what would be replayed; change nothing')
    .addOption(idleOption())
    .action((options: FilterOptions & { dryRun?: boolean; force?: boolean }) =>
      runAction({ action: 'replay', filter: filterOf(options), dryRun: options.dryRun === true, force: options.force === true, idleMs: options.idle }, print),
    );
  dlq
    .command('drop')
    .description('remove matching dead letters for good')
    .option('--code <code>', 'letters with this error code')
    .addOption(kindOption())
    .option('--id <id...>', 'these letters')
    .option('--all', 'every dead letter')
    .option('--dry-run', 'print what would be dropped; change nothing')
    .addOption(idleOption())
    .action((options: FilterOptions & { all?: boolean; dryRun?: boolean }, command: Command) => {
      const filter = filterOf(options);
      const filtered = Object.keys(filter).length > 0;
      if (filtered === (options.all === true)) command.error('sluice dlq drop: give --code, --kind or --id, or --all (not both)');
      return runAction({ action: 'drop', filter, all: options.all === true, dryRun: options.dryRun === true, idleMs: options.idle }, print);
    });
}
