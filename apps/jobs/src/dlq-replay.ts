import { DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN, DEAD_LETTER_REASON, type EventBus, type OutgoingMessage, type ReceivedMessage } from '@sluice/bus';
import { SluiceError, decodeDeadLetter, decodeEventsMessage, encodeEvents, type DeadLetter } from '@sluice/core';
import type { JobData, Jobs } from '@sluice/jobs';

type Print = (line: string) => void;

/**
 * The one subscription every `sluice dlq` command reads the dead letters with: a letter
 * acknowledged here (replayed or dropped) is gone for all of them; one held and released
 * (listed, shown, or not matching a filter) stays where it was. The name predates list and
 * drop: keeping it means letters an older build replayed do not come back.
 */
export const DEAD_LETTER_SUBSCRIPTION = 'dlq-replay';

/**
 * Most letters one command holds unacknowledged at once. Listing, showing and the letters a
 * filter leaves alone are held, never acknowledged nor nacked, and released when the command
 * closes its consumer: each adapter then gives them back to the subscription in their order
 * (the embedded log re-queues them in delivery order, Pulsar redelivers by position) and a
 * close never counts towards a dead letter (only a nack does). A command stops reading once
 * it holds this many and says so (`more`): replay or drop those first, then look again.
 */
export const MAX_HELD_LETTERS = 10_000;
/** Letters asked for per receive. */
const RECEIVE_BATCH = 100;
/** The consumer never nacks; its maxRedeliver is never reached. */
const NEVER_NACKED = { maxRedeliver: 1000, nackDelayMs: 0 } as const;
/** Longest reason in a one-line listing (`show` prints it whole). */
const LISTED_REASON_LENGTH = 120;

/** `event`/`message`: the v1 dead-letter format; `unknown`: anything else found there (an older build's letters). */
export type LetterKind = DeadLetter['kind'] | 'unknown';
export const LETTER_KINDS: readonly LetterKind[] = ['event', 'message', 'unknown'];

/** What a listing says of one dead letter. */
export interface LetterSummary {
  /** The bus message id of the letter (the embedded log's offset, Pulsar's message id). */
  readonly id: string;
  readonly kind: LetterKind;
  readonly code: string | undefined;
  readonly reason: string;
  readonly origin: string | undefined;
  readonly attempts: number | undefined;
  /** ISO-8601 UTC. */
  readonly failedAt: string | undefined;
}

/** One dead letter as read from the bus. */
interface Letter extends LetterSummary {
  /** The decoded v1 letter; undefined for `unknown`. */
  readonly letter: DeadLetter | undefined;
  readonly received: ReceivedMessage;
}

/** Which letters a command acts on: every criterion given must hold (none given: all). */
export interface LetterFilter {
  readonly code?: string;
  readonly kind?: LetterKind;
  readonly ids?: readonly string[];
}

/** One letter read off the bus: the v1 format, or an `unknown` letter with what its headers (or old fields) say. */
export function readLetter(received: ReceivedMessage): Letter {
  const decoded = decodeDeadLetter(received.payload);
  if (decoded.ok) {
    const { letter } = decoded;
    return { id: received.id, kind: letter.kind, code: letter.code, reason: letter.reason, origin: letter.origin, attempts: letter.attempts, failedAt: letter.failedAt, letter, received };
  }
  const legacy = legacyFacts(received.payload);
  return {
    id: received.id,
    kind: 'unknown',
    code: received.properties[DEAD_LETTER_CODE] ?? legacy.code,
    reason: received.properties[DEAD_LETTER_REASON] ?? legacy.reason ?? `not a dead letter in the current format (${decoded.reason})`,
    origin: received.properties[DEAD_LETTER_ORIGIN],
    attempts: undefined,
    failedAt: legacy.failedAt,
    letter: undefined,
    received,
  };
}

/** `code`, `reason` and `failedAt` of an older build's JSON dead letter, where it has them. */
function legacyFacts(payload: Buffer): { code?: string; reason?: string; failedAt?: string } {
  try {
    const value = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    const text = (name: string) => (typeof value[name] === 'string' ? { [name]: value[name] } : {});
    return { ...text('code'), ...text('reason'), ...text('failedAt') };
  } catch {
    return {};
  }
}

export function matchesFilter(letter: LetterSummary, filter: LetterFilter): boolean {
  if (filter.code !== undefined && letter.code !== filter.code) return false;
  if (filter.kind !== undefined && letter.kind !== filter.kind) return false;
  if (filter.ids !== undefined && filter.ids.length > 0 && !filter.ids.includes(letter.id)) return false;
  return true;
}

function summary(letter: Letter, reasonLength = Number.POSITIVE_INFINITY): LetterSummary {
  const reason = letter.reason.length > reasonLength ? `${letter.reason.slice(0, reasonLength - 1)}…` : letter.reason;
  return { id: letter.id, kind: letter.kind, code: letter.code, reason, origin: letter.origin, attempts: letter.attempts, failedAt: letter.failedAt };
}

/**
 * What a letter puts back on the events output: an `event` letter as a one-event `events`
 * message keyed by its profile id; a `message` letter as the original message, byte for
 * byte, with its key and properties; an `unknown` letter as its own bytes and key (the bus's
 * dead-letter headers dropped). `undecodable` says why the worker would refuse it again, where
 * it would: the worker dead-letters a message it cannot decode on its first delivery
 * (MESSAGE_INVALID), so such a replay only writes the letter anew.
 */
export function replayMessageOf(letter: Letter): { readonly message: OutgoingMessage; readonly undecodable: string | undefined } {
  const message = outgoing(letter);
  const decoded = decodeEventsMessage(message.payload);
  return { message, undecodable: decoded.ok ? undefined : decoded.reason };
}

function outgoing(letter: Letter): OutgoingMessage {
  const { letter: v1, received } = letter;
  if (v1?.kind === 'event') return { key: v1.event.profileId, payload: Buffer.from(encodeEvents([v1.event])) };
  if (v1?.kind === 'message') return { key: v1.message.key, payload: Buffer.from(v1.message.payload, 'base64'), properties: v1.message.properties };
  const busHeaders = new Set([DEAD_LETTER_REASON, DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN]);
  return { key: received.key, payload: received.payload, properties: Object.fromEntries(Object.entries(received.properties).filter(([name]) => !busHeaders.has(name))) };
}

/** `show`: a letter in full, a `message` letter's payload as text where it is UTF-8 (else base64). */
export function letterInFull(letter: Letter): Record<string, unknown> {
  const { letter: v1, received } = letter;
  if (v1?.kind === 'event') return { id: letter.id, ...v1 };
  if (v1?.kind === 'message') return { id: letter.id, ...v1, message: { ...v1.message, ...payloadView(Buffer.from(v1.message.payload, 'base64')) } };
  return { ...summary(letter), key: received.key, properties: received.properties, ...payloadView(received.payload) };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function payloadView(bytes: Buffer): { payload: string; encoding: 'utf8' | 'base64' } {
  try {
    return { payload: strictUtf8.decode(bytes), encoding: 'utf8' };
  } catch {
    return { payload: bytes.toString('base64'), encoding: 'base64' };
  }
}

/** What to do with a letter: acknowledge it (gone for good), hold it (it stays), or hold it and stop reading. */
type Verdict = 'remove' | 'keep' | 'stop';

export interface ScanOptions {
  /**
   * Reading stops once no letter older than the command arrived for this long, in
   * milliseconds (letters dead-lettered meanwhile do not keep it reading).
   */
  readonly idleMs: number;
  /** Most letters held at once (MAX_HELD_LETTERS). */
  readonly window?: number;
}

interface ScanReport {
  /** Letters read (each once), `later` ones included. */
  readonly seen: number;
  /** Letters dead-lettered after the command started: held, not looked at, they stay. */
  readonly later: number;
  /** Reading stopped with `window` letters held: more may follow. */
  readonly more: boolean;
}

/**
 * Whether a letter was written at or after `startedAtMs` (its `failedAt`, the clock of the
 * process that dead-lettered it). Such a letter is not one the command was asked about: a
 * replayed message the worker refuses again comes back as one, and replaying that in turn
 * would never end while workers run. A letter without `failedAt` (an older build's) is older.
 */
function isLater(letter: LetterSummary, startedAtMs: number): boolean {
  const failedAtMs = letter.failedAt === undefined ? Number.NaN : Date.parse(letter.failedAt);
  return failedAtMs >= startedAtMs;
}

/**
 * Reads the dead letters oldest first on DEAD_LETTER_SUBSCRIPTION, hands each that existed
 * when the scan started to `visit` once, acknowledges those it removes (after `visit`
 * resolved: a replay publishes first) and releases the rest by closing the consumer, never by
 * a nack. Letters written after the start are held and released unseen, and only the older
 * ones keep it reading: the scan ends `idleMs` after the last of those, however many new
 * letters running workers write meanwhile.
 */
async function scanDeadLetters(bus: EventBus, options: ScanOptions, visit: (letter: Letter) => Promise<Verdict>): Promise<ScanReport> {
  const window = options.window ?? MAX_HELD_LETTERS;
  const startedAtMs = Date.now();
  const consumer = await bus.consumer('dead-letters', DEAD_LETTER_SUBSCRIPTION, { maxUnacked: window, ...NEVER_NACKED });
  // A reconnect can deliver a letter twice: a removed one is acknowledged again, not replayed again.
  const removed = new Set<string>();
  const kept = new Set<string>();
  let later = 0;
  let lastOlderAtMs = Date.now();
  const report = (more: boolean): ScanReport => ({ seen: removed.size + kept.size, later, more });
  try {
    for (;;) {
      const waitMs = options.idleMs - (Date.now() - lastOlderAtMs);
      if (waitMs <= 0) return report(kept.size >= window);
      const batch = await consumer.receive(Math.min(RECEIVE_BATCH, window), waitMs);
      for (const received of batch) {
        if (removed.has(received.id)) await consumer.ack(received);
        if (removed.has(received.id) || kept.has(received.id)) continue;
        const letter = readLetter(received);
        if (isLater(letter, startedAtMs)) {
          later += 1;
          kept.add(received.id);
          continue;
        }
        lastOlderAtMs = Date.now();
        const verdict = await visit(letter);
        if (verdict === 'remove') {
          await consumer.ack(received);
          removed.add(received.id);
        } else kept.add(received.id);
        if (verdict === 'stop') return report(false);
      }
      if (kept.size >= window) return report(true);
    }
  } finally {
    await consumer.close();
  }
}

export interface ListReport extends ScanReport {
  /** The first `limit` matching letters, oldest first. */
  readonly letters: LetterSummary[];
  /** Letters that matched (listed or not). */
  readonly matched: number;
}

/** `sluice dlq list`: the matching letters, oldest first, reasons shortened; nothing is consumed. */
export async function listDeadLetters(bus: EventBus, options: ScanOptions & { readonly filter: LetterFilter; readonly limit: number }): Promise<ListReport> {
  const letters: LetterSummary[] = [];
  let matched = 0;
  const report = await scanDeadLetters(bus, options, async (letter) => {
    if (!matchesFilter(letter, options.filter)) return 'keep';
    matched += 1;
    if (letters.length < options.limit) letters.push(summary(letter, LISTED_REASON_LENGTH));
    return 'keep';
  });
  return { letters, matched, ...report };
}

/** `sluice dlq show`: one letter in full, or undefined; nothing is consumed. */
export async function showDeadLetter(bus: EventBus, id: string, options: ScanOptions): Promise<Record<string, unknown> | undefined> {
  let found: Record<string, unknown> | undefined;
  await scanDeadLetters(bus, options, async (letter) => {
    if (letter.id !== id) return 'keep';
    found = letterInFull(letter);
    return 'stop';
  });
  return found;
}

export interface ActionReport {
  /** Letters replayed (or dropped); with `dryRun`, those that would be. */
  readonly acted: number;
  /**
   * Matching letters whose message the worker cannot decode: kept without `force`; with it,
   * replayed (counted in `acted`) and dead-lettered anew by the worker at once.
   */
  readonly undecodable: number;
  /** Letters that did not match and stay. */
  readonly kept: number;
  /** Letters dead-lettered after the run started: not looked at, they stay (run again for them). */
  readonly later: number;
  readonly more: boolean;
}

export interface ActionOptions extends ScanOptions {
  readonly filter: LetterFilter;
  readonly dryRun: boolean;
  /** `replay` only: republish letters the worker cannot decode too. */
  readonly force?: boolean;
  /** One JSON line per matching letter. */
  readonly print: Print;
}

/**
 * `sluice dlq replay`: republishes every matching letter that existed when the run started to
 * the events output (see replayMessageOf), one at a time, and removes it from the dead letters
 * only once the bus acknowledged the republish. Non-matching letters stay, and so do letters
 * the worker cannot decode (unless `force`): replaying one would only dead-letter it anew.
 * A letter the worker refuses again comes back after the start and is not replayed twice.
 * With `dryRun`, nothing changes.
 */
export async function replayDeadLetters(bus: EventBus, options: ActionOptions): Promise<ActionReport> {
  let acted = 0;
  let undecodable = 0;
  let kept = 0;
  const force = options.force === true;
  const report = await scanDeadLetters(bus, options, async (letter) => {
    if (!matchesFilter(letter, options.filter)) {
      kept += 1;
      return 'keep';
    }
    const plan = replayMessageOf(letter);
    if (plan.undecodable !== undefined) undecodable += 1;
    const replays = plan.undecodable === undefined || force;
    if (replays) acted += 1;
    options.print(JSON.stringify({ ...summary(letter, LISTED_REASON_LENGTH), action: actionOf(replays, options.dryRun), ...undecodableNote(plan.undecodable, force) }));
    if (options.dryRun || !replays) return 'keep';
    await bus.publish('events', [plan.message]);
    return 'remove';
  });
  return { acted, undecodable, kept, later: report.later, more: report.more };
}

function actionOf(replays: boolean, dryRun: boolean): string {
  if (!replays) return dryRun ? 'would keep' : 'kept';
  return dryRun ? 'would replay' : 'replayed';
}

function undecodableNote(undecodable: string | undefined, force: boolean): { note?: string } {
  if (undecodable === undefined) return {};
  if (force) return { note: `the worker cannot decode it (${undecodable}) and dead-letters it anew at once` };
  return { note: `not replayed: the worker cannot decode it (${undecodable}) and would dead-letter it anew at once; drop it, or replay it with --force` };
}

/** `sluice dlq drop`: removes the matching letters for good (an empty filter would remove all: say `all`). */
export async function dropDeadLetters(bus: EventBus, options: ActionOptions): Promise<ActionReport> {
  let acted = 0;
  let kept = 0;
  const report = await scanDeadLetters(bus, options, async (letter) => {
    if (!matchesFilter(letter, options.filter)) {
      kept += 1;
      return 'keep';
    }
    acted += 1;
    options.print(JSON.stringify({ ...summary(letter, LISTED_REASON_LENGTH), action: options.dryRun ? 'would drop' : 'dropped' }));
    return options.dryRun ? 'keep' : 'remove';
  });
  return { acted, undecodable: 0, kept, later: report.later, more: report.more };
}

/** The job that replays or drops dead letters (one job: two such runs never overlap). */
export const DLQ_REPLAY_JOB = 'dlq-replay';
/** Most per-letter lines a run reports back. */
const MAX_REPORTED_LETTERS = 1000;

/** What `sluice dlq replay|drop` asks the job for. */
export interface DlqJobRequest {
  readonly action: 'replay' | 'drop';
  readonly filter: LetterFilter;
  /** `drop` only: an empty filter is refused unless this is set. */
  readonly all?: boolean;
  readonly dryRun: boolean;
  /** `replay` only: republish letters the worker cannot decode too. */
  readonly force?: boolean;
  readonly idleMs: number;
}

export interface DlqJobResult extends ActionReport {
  readonly action: 'replay' | 'drop';
  /** One JSON line per matching letter (the first MAX_REPORTED_LETTERS). */
  readonly letters: string[];
  readonly lettersOmitted: number;
}

/** The job data of a request (job data is flat JSON scalars: the filter travels as JSON text). */
export function dlqJobData(request: DlqJobRequest): JobData {
  return { action: request.action, filter: JSON.stringify(request.filter), all: request.all === true, dryRun: request.dryRun, force: request.force === true, idleMs: request.idleMs };
}

function dlqJobRequest(data: JobData): DlqJobRequest {
  const filter = (typeof data['filter'] === 'string' ? JSON.parse(data['filter']) : {}) as LetterFilter;
  return {
    action: data['action'] === 'drop' ? 'drop' : 'replay',
    filter,
    all: data['all'] === true,
    dryRun: data['dryRun'] === true,
    force: data['force'] === true,
    idleMs: typeof data['idleMs'] === 'number' ? data['idleMs'] : 2000,
  };
}

const isEmpty = (filter: LetterFilter) => filter.code === undefined && filter.kind === undefined && (filter.ids === undefined || filter.ids.length === 0);

/**
 * Registers the replay/drop job, so that it runs once across the cluster (BullMQ where
 * Redis is configured): two operators asking at once get two runs one after the other,
 * never two readers republishing the same letters side by side.
 */
export function defineDlqReplay(jobs: Jobs, bus: EventBus): void {
  jobs.define(DLQ_REPLAY_JOB, async (data): Promise<DlqJobResult> => {
    const request = dlqJobRequest(data);
    if (request.action === 'drop' && isEmpty(request.filter) && request.all !== true) {
      throw new SluiceError('VALIDATION_FAILED', 'drop needs a filter (code, kind, ids) or all');
    }
    const letters: string[] = [];
    let lettersOmitted = 0;
    const print: Print = (line) => {
      if (letters.length < MAX_REPORTED_LETTERS) letters.push(line);
      else lettersOmitted += 1;
    };
    const options = { filter: request.filter, dryRun: request.dryRun, force: request.force === true, idleMs: request.idleMs, print };
    const report = request.action === 'drop' ? await dropDeadLetters(bus, options) : await replayDeadLetters(bus, options);
    return { action: request.action, ...report, letters, lettersOmitted };
  });
}
