// What the open-model runner records for one stage (a rate segment): requests scheduled,
// started and dropped, answers by status, accepted events, latency in an HDR histogram (µs).
import * as hdr from 'hdr-histogram-js';

/** Latencies up to one hour, three significant digits, in microseconds. */
function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

export interface LatencyMs {
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class StageStats {
  /** Arrivals the schedule asked for (started + dropped). */
  scheduled = 0;
  started = 0;
  /** Arrivals that found maxVUs requests in flight and were not sent (k6's dropped_iterations). */
  dropped = 0;
  completed = 0;
  /** Requests that did not get the expected status, by status ("network" when none came back). */
  readonly errorsByStatus: Record<string, number> = {};
  /** Events in answers that accepted the whole batch. */
  acceptedEvents = 0;
  /** Events of requests with the expected status whose answer did not accept all of them. */
  eventsNotAccepted = 0;
  /** Requests with the expected status whose answer did not accept every event (a failed check). */
  requestsNotAccepted = 0;
  readonly latency = newHistogram();

  get errors(): number {
    return Object.values(this.errorsByStatus).reduce((total, count) => total + count, 0);
  }

  recordAnswer(latencyMs: number, status: number | 'network', expectedStatus: number, batchSize: number, accepted: unknown): void {
    this.completed++;
    this.latency.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
    if (status !== expectedStatus) {
      this.errorsByStatus[String(status)] = (this.errorsByStatus[String(status)] ?? 0) + 1;
    } else if (accepted === batchSize) {
      this.acceptedEvents += batchSize;
    } else {
      this.eventsNotAccepted += batchSize;
      this.requestsNotAccepted++;
    }
  }

  /** Adds `other`'s counts and latencies into this one (for totals). */
  add(other: StageStats): void {
    this.scheduled += other.scheduled;
    this.started += other.started;
    this.dropped += other.dropped;
    this.completed += other.completed;
    this.acceptedEvents += other.acceptedEvents;
    this.eventsNotAccepted += other.eventsNotAccepted;
    this.requestsNotAccepted += other.requestsNotAccepted;
    for (const [status, count] of Object.entries(other.errorsByStatus)) this.errorsByStatus[status] = (this.errorsByStatus[status] ?? 0) + count;
    this.latency.add(other.latency);
  }

  latencyMs(): LatencyMs {
    const ms = (us: number): number => Math.round(us) / 1000;
    if (this.latency.totalCount === 0) return { avg: 0, p50: 0, p95: 0, p99: 0, max: 0 };
    return { avg: ms(this.latency.mean), p50: ms(this.latency.getValueAtPercentile(50)), p95: ms(this.latency.getValueAtPercentile(95)), p99: ms(this.latency.getValueAtPercentile(99)), max: ms(this.latency.maxValue) };
  }
}

export function newStageStats(): StageStats {
  return new StageStats();
}
