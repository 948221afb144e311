import { SluiceError } from '@sluice/core';

/** The position after the last event of a page: its time and id (the sort keys). */
export interface PagePosition {
  readonly time: string;
  readonly id: string;
}

export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.time, position.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): PagePosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') return { time: value[0], id: value[1] };
  } catch {
    // falls through to the error below
  }
  throw new SluiceError('INVALID_CURSOR', 'the cursor is malformed');
}
