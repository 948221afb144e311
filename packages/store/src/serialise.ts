import type { TrackedEvent } from '@sluice/core';
import { receivedAtMs } from './cursor.ts';
import type { WriteOutcome } from './port.ts';

/** An event ready to store: its JSON text and receive time, or why it can never be stored. */
export type SerialisedEvent =
  | { readonly json: string; readonly receivedAtMs: number }
  | { readonly rejected: Extract<WriteOutcome, { status: 'rejected' }> };

/**
 * Serialises one event on its own, so that an event nothing can store — one nested so deep
 * that JSON.stringify overflows the stack (RangeError), one with a receive time that is not
 * a time — is rejected alone, never failing (or stalling) the batch it came in.
 */
export function serialiseEvent(event: TrackedEvent): SerialisedEvent {
  const received = receivedAtMs(event);
  if (!Number.isFinite(received)) return { rejected: { status: 'rejected', code: 'STORE_REJECTED', reason: `receivedAt is not a time: ${String(event.receivedAt).slice(0, 64)}` } };
  try {
    return { json: JSON.stringify(event), receivedAtMs: received };
  } catch (error) {
    return { rejected: { status: 'rejected', code: 'STORE_REJECTED', reason: `the event cannot be serialised: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(0, 1000) } };
  }
}
