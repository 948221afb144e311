/**
 * Event times as clients send them: RFC 3339 `date-time` (ISO 8601's profile for the
 * internet), parsed by one function that the API's validator and the worker's normaliser
 * share, so that every time the API accepts is a time the worker can store.
 */

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM); `T`/`Z` in either case, as RFC 3339 allows.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Earliest and latest instants an event time may name: years 0001–9999 in UTC, so the ISO text sorts as the time does. */
const EARLIEST_MS = new Date('0001-01-01T00:00:00.000Z').getTime();
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Milliseconds since the Unix epoch of an RFC 3339 `date-time`, or undefined when `text` is
 * not one, or names an instant outside years 0001–9999 UTC. A leap second (`:60`) is
 * accepted and read as the last millisecond of its minute; digits beyond milliseconds are
 * truncated.
 */
export function parseEventTime(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  // Every group the pattern requires is digits, so `+` cannot fail here (this runs for every
  // event, twice: in the validator and in the normaliser).
  const year = +match[1]!;
  const month = +match[2]!;
  const day = +match[3]!;
  const hour = +match[4]!;
  const minute = +match[5]!;
  const second = +match[6]!;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMinutes = 0;
  if (match[9] !== undefined) {
    const offsetHours = +match[10]!;
    const offsetMins = +match[11]!;
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const fraction = match[7];
  const millis = second === 60 ? 999 : fraction === undefined ? 0 : Math.trunc(+`0${fraction}` * 1000);
  let local = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), millis);
  // Date.UTC reads years 0–99 as 1900–1999; setUTCFullYear does not.
  if (year < 100) local = new Date(local).setUTCFullYear(year);
  const ms = local - offsetMinutes * 60_000;
  return ms < EARLIEST_MS || ms > LATEST_MS ? undefined : ms;
}

/** True for the event times `parseEventTime` reads (the `/track` schema's `sluice-time` format). */
export function isEventTime(text: string): boolean {
  return parseEventTime(text) !== undefined;
}

/** ISO-8601 UTC with milliseconds (`2026-12-01T17:02:53.000Z`): for years 0001–9999 its text sorts as the time does. */
export function formatEventTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Name of the JSON Schema format of event times (registered on every validator that compiles the `/track` schema). */
export const EVENT_TIME_FORMAT = 'sluice-time';
