import type { DependencyHealth } from '@sluice/observability';
import type { JobData, JobHandler, JobResult, Jobs } from '../port.ts';

interface RegisteredJob {
  readonly handler: JobHandler;
  readonly timer: NodeJS.Timeout | undefined;
  /** The run in progress or queued last; the next run starts after it. */
  tail: Promise<unknown>;
  running: boolean;
  runs: number;
  failures: number;
  lastError: string | undefined;
}

/** The embedded Jobs adapter: timers in this process (one process = "once across the cluster"). */
export class InProcessJobs implements Jobs {
  private readonly jobs = new Map<string, RegisteredJob>();
  private closed = false;

  private readonly onError: (job: string, error: unknown) => void;

  constructor(onError: (job: string, error: unknown) => void) {
    this.onError = onError;
  }

  every(name: string, intervalMs: number, handler: JobHandler): void {
    const timer = setInterval(() => {
      const job = this.jobs.get(name);
      // A tick finding the job still running is skipped: ticks never queue up behind a slow run.
      if (job !== undefined && !job.running) this.run(name, {}).catch(() => undefined);
    }, intervalMs);
    timer.unref();
    this.register(name, handler, timer);
  }

  define(name: string, handler: JobHandler): void {
    this.register(name, handler, undefined);
  }

  runNow(name: string, data: JobData = {}): Promise<JobResult> {
    if (!this.jobs.has(name)) return Promise.reject(new Error(`no job named ${name}`));
    return this.run(name, data);
  }

  async health(): Promise<DependencyHealth> {
    const jobs = Object.fromEntries([...this.jobs].map(([name, job]) => [name, { runs: job.runs, failures: job.failures, running: job.running, lastError: job.lastError }]));
    return { ok: !this.closed, adapter: 'embedded', detail: { jobs } };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.jobs.values()) clearInterval(job.timer);
    await Promise.all([...this.jobs.values()].map((job) => job.tail.catch(() => undefined)));
  }

  private register(name: string, handler: JobHandler, timer: NodeJS.Timeout | undefined): void {
    if (this.jobs.has(name)) {
      clearInterval(timer);
      throw new Error(`job ${name} is already registered`);
    }
    this.jobs.set(name, { handler, timer, tail: Promise.resolve(), running: false, runs: 0, failures: 0, lastError: undefined });
  }

  private run(name: string, data: JobData): Promise<JobResult> {
    const job = this.jobs.get(name);
    if (job === undefined || this.closed) return Promise.reject(new Error(`jobs are closed; ${name} did not run`));
    const run = job.tail.catch(() => undefined).then(() => this.execute(name, job, data));
    job.tail = run;
    return run;
  }

  private async execute(name: string, job: RegisteredJob, data: JobData): Promise<JobResult> {
    job.runs += 1;
    job.running = true;
    try {
      const result = (await job.handler(data)) ?? undefined;
      job.lastError = undefined;
      return result;
    } catch (error) {
      job.failures += 1;
      job.lastError = error instanceof Error ? error.message : String(error);
      this.onError(name, error);
      throw error;
    } finally {
      job.running = false;
    }
  }
}
