import type { Command } from 'commander';
import { DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN, DEAD_LETTER_REASON, type EventBus, type OutgoingMessage, type ReceivedMessage } from '@sluice/bus';
import { loadConfig } from '@sluice/config';
import type { EventBatchMessage, TrackedEvent } from '@sluice/core';
import { createLogger } from '@sluice/observability';
import { closeAdapters, createAdapters } from '@sluice/wiring';

type Print = (line: string) => void;

/** Subscription the replay reads the dead letters with (kept apart from any other reader). */
export const REPLAY_SUBSCRIPTION = 'dlq-replay';

export interface ReplayPlan {
  /** The message to put back on the events output, or why it cannot be replayed. */
  readonly message?: OutgoingMessage;
  readonly skip?: string;
  readonly reason: string;
}

/**
 * What a dead letter becomes on replay. Two shapes reach the dead letters: a whole bus
 * message that kept failing (its payload is an EventBatchMessage, republished as it was),
 * and one event the store rejected (the worker's `{code, reason, failedAt, event}`,
 * republished as a one-event batch). The dead-letter headers are dropped.
 */
export function replayPlan(letter: ReceivedMessage): ReplayPlan {
  const reason = letter.properties[DEAD_LETTER_REASON] ?? 'unknown';
  const properties = Object.fromEntries(Object.entries(letter.properties).filter(([name]) => ![DEAD_LETTER_REASON, DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN].includes(name)));
  let parsed: unknown;
  try {
    parsed = JSON.parse(letter.payload.toString('utf8'));
  } catch {
    return { skip: 'payload is not JSON', reason };
  }
  if (isBatch(parsed)) return { message: { key: letter.key, payload: letter.payload, properties }, reason };
  const event = (parsed as { event?: TrackedEvent }).event;
  if (event !== undefined && typeof event === 'object' && typeof event.id === 'string') {
    const batch: EventBatchMessage = { events: [event] };
    return { message: { key: event.profileId, payload: Buffer.from(JSON.stringify(batch)), properties }, reason };
  }
  return { skip: 'neither an event batch nor a rejected event', reason };
}

function isBatch(value: unknown): value is EventBatchMessage {
  return typeof value === 'object' && value !== null && Array.isArray((value as { events?: unknown }).events);
}

export interface ReplayReport {
  replayed: number;
  skipped: number;
}

/**
 * Moves dead letters back to the events output, each acked only after the republish is
 * durable; stops when none arrives for `idleMs`. With `dryRun`, prints and changes nothing.
 */
export async function replayDeadLetters(bus: EventBus, options: { limit: number; idleMs: number; dryRun: boolean; print: Print }): Promise<ReplayReport> {
  const consumer = await bus.consumer('dead-letters', REPLAY_SUBSCRIPTION, { maxUnacked: 100, maxRedeliver: 1000, nackDelayMs: 1000 });
  const report: ReplayReport = { replayed: 0, skipped: 0 };
  try {
    while (report.replayed + report.skipped < options.limit) {
      const letters = await consumer.receive(Math.min(100, options.limit - report.replayed - report.skipped), options.idleMs);
      if (letters.length === 0) break;
      for (const letter of letters) {
        const plan = replayPlan(letter);
        options.print(JSON.stringify({ id: letter.id, reason: plan.reason, action: plan.message ? (options.dryRun ? 'would replay' : 'replayed') : `skipped: ${plan.skip ?? ''}` }));
        if (options.dryRun) {
          await consumer.nack(letter, 'dry run');
          continue;
        }
        if (plan.message) {
          await bus.publish('events', [plan.message]);
          report.replayed += 1;
        } else report.skipped += 1;
        await consumer.ack(letter);
      }
      if (options.dryRun) break;
    }
  } finally {
    await consumer.close();
  }
  return report;
}

/** `sluice dlq replay`: put dead letters back on the events topic once their cause is fixed. */
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
      const adapters = await createAdapters(config, createLogger('error'), ['bus']);
      try {
        const report = await replayDeadLetters(adapters.bus, { limit: Number(opts.limit), idleMs: Number(opts.idle), dryRun: opts.dryRun === true, print });
        print(JSON.stringify(report));
      } finally {
        await closeAdapters(adapters);
      }
    });
}
