import { DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN, DEAD_LETTER_REASON, type EventBus, type OutgoingMessage, type ReceivedMessage } from '@sluice/bus';
import { decodeBatch, type EventBatchMessage, type TrackedEvent } from '@sluice/core';
import type { Jobs } from '@sluice/jobs';

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
  if (decodeBatch(parsed) !== undefined) return { message: { key: letter.key, payload: letter.payload, properties }, reason };
  const event = (parsed as { event?: TrackedEvent }).event;
  if (event !== undefined && typeof event === 'object' && typeof event.id === 'string') {
    const batch: EventBatchMessage = { events: [event] };
    return { message: { key: event.profileId, payload: Buffer.from(JSON.stringify(batch)), properties }, reason };
  }
  return { skip: 'neither an event batch nor a rejected event', reason };
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

export const DLQ_REPLAY_JOB = 'dlq-replay';
/** Most per-letter lines a replay run reports back. */
const MAX_REPORTED_LETTERS = 1000;

export interface ReplayJobResult extends ReplayReport {
  /** One JSON line per dead letter seen (the first MAX_REPORTED_LETTERS). */
  readonly letters: string[];
  readonly lettersOmitted: number;
}

/**
 * Registers the replay as a job, so that it runs once across the cluster (BullMQ where
 * Redis is configured): two operators starting a replay at once get two runs one after the
 * other, never two readers republishing the same letters side by side.
 */
export function defineDlqReplay(jobs: Jobs, bus: EventBus): void {
  jobs.define(DLQ_REPLAY_JOB, async (data): Promise<ReplayJobResult> => {
    const letters: string[] = [];
    let lettersOmitted = 0;
    const report = await replayDeadLetters(bus, {
      limit: typeof data.limit === 'number' ? data.limit : 1_000_000,
      idleMs: typeof data.idleMs === 'number' ? data.idleMs : 2000,
      dryRun: data.dryRun === true,
      print: (line) => {
        if (letters.length < MAX_REPORTED_LETTERS) letters.push(line);
        else lettersOmitted += 1;
      },
    });
    return { ...report, letters, lettersOmitted };
  });
}
