/**
 * Seconds from an event's receive time (`receivedAt`, ISO 8601, set by the API replica that
 * answered the request) to `nowMs` (the worker's clock, ms since the epoch). Never below 0:
 * the two clocks may disagree by a little, and a negative latency means nothing.
 * Undefined when `receivedAt` does not parse (the bus envelope's schema makes that a bug).
 */
export function secondsSince(receivedAt: string, nowMs: number): number | undefined {
  const receivedMs = Date.parse(receivedAt);
  return Number.isFinite(receivedMs) ? Math.max(0, nowMs - receivedMs) / 1000 : undefined;
}
