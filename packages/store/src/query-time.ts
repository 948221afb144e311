import { SluiceError } from '@sluice/core';

/** A `from`/`to` bound of an event query as ms since the epoch; VALIDATION_FAILED when it is not a time. */
export function queryTimeMs(value: string, name: 'from' | 'to'): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new SluiceError('VALIDATION_FAILED', `${name} is not an ISO-8601 time`);
  return ms;
}
