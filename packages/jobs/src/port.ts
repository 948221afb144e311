import type { HealthCheck } from '@sluice/observability';

export type JobHandler = () => Promise<void>;

/** Background jobs that must run once across the cluster per tick. */
export interface Jobs extends HealthCheck {
  /**
   * Runs `handler` every `intervalMs` milliseconds. A run never overlaps the previous run
   * of the same job; a failing run is reported to `onError` and the schedule goes on.
   */
  every(name: string, intervalMs: number, handler: JobHandler): void;
  /** Runs a scheduled job now (still never overlapping itself) and waits for it. */
  runNow(name: string): Promise<void>;
  /** Stops scheduling and waits for running jobs. Idempotent. */
  close(): Promise<void>;
}
