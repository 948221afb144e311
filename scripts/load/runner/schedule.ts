// The open model's arrival schedule: how many requests are due by a given time under rate
// segments that move linearly (k6's ramping-arrival-rate). Pure arithmetic, unit-tested.
import type { RateSegment } from '../../../load-tests/lib/scenario.js';

/** The whole schedule's length in milliseconds. */
export function scheduleDurationMs(segments: readonly RateSegment[]): number {
  return segments.reduce((total, segment) => total + segment.durationMs, 0);
}

/** Requests due within one segment, `offsetMs` into it: the integral of its linear rate. */
function dueWithin(segment: RateSegment, offsetMs: number): number {
  const seconds = offsetMs / 1000;
  const slopePerS2 = segment.durationMs === 0 ? 0 : (segment.toPerS - segment.fromPerS) / (segment.durationMs / 1000);
  return segment.fromPerS * seconds + (slopePerS2 * seconds * seconds) / 2;
}

/** Requests due (fractional) from the start until `elapsedMs`; the schedule's total after its end. */
export function arrivalsBy(segments: readonly RateSegment[], elapsedMs: number): number {
  let due = 0;
  let left = elapsedMs;
  for (const segment of segments) {
    if (left <= 0) break;
    due += dueWithin(segment, Math.min(left, segment.durationMs));
    left -= segment.durationMs;
  }
  return due;
}

/** The index of the segment that `elapsedMs` falls in (the last one at or after the end). */
export function segmentAt(segments: readonly RateSegment[], elapsedMs: number): number {
  let end = 0;
  for (let index = 0; index < segments.length; index++) {
    end += segments[index]!.durationMs;
    if (elapsedMs < end) return index;
  }
  return segments.length - 1;
}
