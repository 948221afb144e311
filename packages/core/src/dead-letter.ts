import type { ErrorCode } from './errors.ts';
import type { TrackedEvent } from './event.ts';

/** Version of the dead-letter format; every dead letter the pipeline writes has it. */
export const DEAD_LETTER_VERSION = 1;

/** What every dead letter says about its failure. */
interface DeadLetterFacts {
  readonly v: typeof DEAD_LETTER_VERSION;
  /** Catalogue code of the failure (e.g. STORE_REJECTED, MESSAGE_INVALID). */
  readonly code: ErrorCode;
  /** Why it failed, for people: the store's or decoder's own words. */
  readonly reason: string;
  /** Where it came from: topic (or log) and message id or position. */
  readonly origin: string;
  /** Deliveries (or write attempts) before it was given up. */
  readonly attempts: number;
  /** When it was dead-lettered, ISO-8601 UTC. */
  readonly failedAt: string;
}

/**
 * One dead letter: a single tracked event the store refused (`event`), or a whole bus
 * message that could not be decoded or kept failing (`message`, kept byte for byte as
 * base64). One format for every adapter and every step, so that one replay reads them all.
 */
export type DeadLetter =
  | (DeadLetterFacts & { readonly kind: 'event'; readonly event: TrackedEvent })
  | (DeadLetterFacts & { readonly kind: 'message'; readonly message: { readonly key: string; readonly payload: string; readonly properties: Readonly<Record<string, string>> } });

/** The bytes of a dead letter on the dead-letters topic. */
export function encodeDeadLetter(letter: DeadLetter): Buffer {
  return Buffer.from(JSON.stringify(letter));
}

/** The dead letter of a bus message, the message kept as it was (payload base64). */
export function messageDeadLetter(
  message: { readonly key: string; readonly payload: Uint8Array; readonly properties?: Readonly<Record<string, string>> },
  failure: { readonly code: ErrorCode; readonly reason: string; readonly origin: string; readonly attempts: number; readonly failedAt?: string },
): DeadLetter {
  const payload = Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength).toString('base64');
  return { v: DEAD_LETTER_VERSION, kind: 'message', code: failure.code, reason: failure.reason, origin: failure.origin, attempts: failure.attempts, failedAt: failure.failedAt ?? new Date().toISOString(), message: { key: message.key, payload, properties: { ...message.properties } } };
}

/** A dead letter read back, or why the bytes are not one (never throws). */
export function decodeDeadLetter(bytes: Uint8Array): { readonly ok: true; readonly letter: DeadLetter } | { readonly ok: false; readonly reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'not an object' };
  const letter = value as Partial<DeadLetter> & { event?: unknown; message?: { key?: unknown; payload?: unknown; properties?: unknown } };
  if (letter.v !== DEAD_LETTER_VERSION) return { ok: false, reason: `not a version ${DEAD_LETTER_VERSION} dead letter` };
  if (typeof letter.code !== 'string' || typeof letter.reason !== 'string' || typeof letter.origin !== 'string' || typeof letter.attempts !== 'number' || typeof letter.failedAt !== 'string') return { ok: false, reason: 'a dead letter needs code, reason, origin, attempts and failedAt' };
  if (letter.kind === 'event' && typeof letter.event === 'object' && letter.event !== null) return { ok: true, letter: letter as DeadLetter };
  const message = letter.message;
  if (letter.kind === 'message' && typeof message?.key === 'string' && typeof message.payload === 'string' && typeof message.properties === 'object' && message.properties !== null) return { ok: true, letter: letter as DeadLetter };
  return { ok: false, reason: `kind ${String(letter.kind)} without its ${letter.kind === 'event' ? 'event' : 'message'}` };
}
