import { SluiceError } from '@sluice/core';

/**
 * The position after the last event of a page: its sort keys — server receive time (ms since
 * the epoch), source id, event id. Together they are unique, so pages neither skip nor repeat.
 */
export interface PagePosition {
  readonly receivedAtMs: number;
  readonly sourceId: string;
  readonly id: string;
}

export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.receivedAtMs, position.sourceId, position.id]), 'utf8').toString('base64url');
}

/** Throws INVALID_CURSOR for anything `encodeCursor` did not make (including cursors of older versions). */
export function decodeCursor(cursor: string): PagePosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string' && typeof value[2] === 'string') {
      return { receivedAtMs: value[0] as number, sourceId: value[1], id: value[2] };
    }
  } catch {
    // falls through to the error below
  }
  throw new SluiceError('INVALID_CURSOR', 'the cursor is malformed');
}

/** The receive time of an event in ms; the server sets it, so it always parses. */
export function receivedAtMs(event: { readonly receivedAt: string }): number {
  return Date.parse(event.receivedAt);
}
