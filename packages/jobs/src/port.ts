import type { HealthCheck } from '@sluice/observability';

/** What a run is given: JSON values (a distributed adapter carries them through Redis). */
export type JobData = Readonly<Record<string, string | number | boolean | null>>;
/** What a run reports back to whoever asked for it with `runNow`: a JSON value. */
export type JobResult = object | undefined;

export type JobHandler = (data: JobData) => Promise<JobResult | void>;

/**
 * Background jobs that must run once across the cluster: every replica registers the same
 * jobs, and each run happens in exactly one of them. Two runs of one job never overlap,
 * across the whole cluster.
 */
export interface Jobs extends HealthCheck {
  /**
   * Runs `handler` every `intervalMs` milliseconds (with `{}` as data). A failing run is
   * reported to the adapter's error callback and the schedule goes on.
   */
  every(name: string, intervalMs: number, handler: JobHandler): void;
  /** Registers a job that runs only when asked for with `runNow`. */
  define(name: string, handler: JobHandler): void;
  /**
   * Runs a registered job now, after any run of it in progress, and waits for it: resolves
   * with what the handler returned, rejects with its error.
   */
  runNow(name: string, data?: JobData): Promise<JobResult>;
  /** Stops scheduling and waits for running jobs. Idempotent. */
  close(): Promise<void>;
}
