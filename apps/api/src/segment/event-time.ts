import { formatEventTime, parseEventTime } from '@sluice/core';

/** The times a Segment message may carry, as sent (each should be an RFC 3339 string). */
export interface SegmentTimes {
  readonly timestamp?: unknown;
  readonly originalTimestamp?: unknown;
  readonly sentAt?: unknown;
}

export type EventTimeOutcome = { readonly ok: true; readonly time: string } | { readonly ok: false; readonly reason: string };

/**
 * When a Segment event happened, by Segment's rule:
 * - `timestamp` when sent (the SDK or the sender vouches for it);
 * - else `originalTimestamp` corrected for the client's clock skew: `receivedAt − (sentAt −
 *   originalTimestamp)` (the client's own clock measured how long the event waited before it
 *   was sent; that wait is taken back from the server's receive time), or `originalTimestamp`
 *   as it is when no `sentAt` came;
 * - else the receive time.
 * Each time that is present must be an RFC 3339 date-time (years 0001–9999); otherwise the
 * event is invalid, named by the field. The result is in the stored form (UTC, ms).
 */
export function segmentEventTime(times: SegmentTimes, receivedAtMs: number): EventTimeOutcome {
  const timestamp = timeField('timestamp', times.timestamp);
  const original = timeField('originalTimestamp', times.originalTimestamp);
  const sentAt = timeField('sentAt', times.sentAt);
  for (const field of [timestamp, original, sentAt]) if (field !== undefined && !field.ok) return field;
  if (timestamp?.ok === true) return { ok: true, time: formatEventTime(timestamp.ms) };
  if (original?.ok === true) {
    if (sentAt?.ok !== true) return { ok: true, time: formatEventTime(original.ms) };
    const corrected = receivedAtMs - (sentAt.ms - original.ms);
    // A skew that lands outside years 0001–9999 cannot be stored: invalid, like a bad time.
    if (parseEventTime(formatEventTimeSafe(corrected) ?? '') === undefined) return { ok: false, reason: `originalTimestamp corrected by sentAt falls outside years 0001–9999` };
    return { ok: true, time: formatEventTime(corrected) };
  }
  return { ok: true, time: formatEventTime(receivedAtMs) };
}

type Field = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly reason: string };

function timeField(name: string, value: unknown): Field | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'string' ? parseEventTime(value) : undefined;
  if (ms === undefined) return { ok: false, reason: `${name} is not an RFC 3339 date-time: ${JSON.stringify(value).slice(0, 64)}` };
  return { ok: true, ms };
}

/** `formatEventTime`, or undefined for an instant Date cannot represent. */
function formatEventTimeSafe(ms: number): string | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? formatEventTime(ms) : undefined;
}
