import type { DependencyHealth } from '@sluice/observability';
import type { JobHandler, Jobs } from '../port.ts';

interface ScheduledJob {
  readonly handler: JobHandler;
  readonly timer: NodeJS.Timeout;
  running: Promise<void> | undefined;
  runs: number;
  failures: number;
  lastError: string | undefined;
}

/** The embedded Jobs adapter: timers in this process (one process = "once across the cluster"). */
export class InProcessJobs implements Jobs {
  private readonly jobs = new Map<string, ScheduledJob>();
  private closed = false;

  private readonly onError: (job: string, error: unknown) => void;

  constructor(onError: (job: string, error: unknown) => void) {
    this.onError = onError;
  }

  every(name: string, intervalMs: number, handler: JobHandler): void {
    if (this.jobs.has(name)) throw new Error(`job ${name} is already scheduled`);
    const timer = setInterval(() => void this.run(name), intervalMs);
    timer.unref();
    this.jobs.set(name, { handler, timer, running: undefined, runs: 0, failures: 0, lastError: undefined });
  }

  async runNow(name: string): Promise<void> {
    if (!this.jobs.has(name)) throw new Error(`no job named ${name}`);
    await this.run(name);
  }

  async health(): Promise<DependencyHealth> {
    const jobs = Object.fromEntries([...this.jobs].map(([name, job]) => [name, { runs: job.runs, failures: job.failures, running: job.running !== undefined, lastError: job.lastError }]));
    return { ok: !this.closed, adapter: 'embedded', detail: { jobs } };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.jobs.values()) clearInterval(job.timer);
    await Promise.all([...this.jobs.values()].map((job) => job.running ?? Promise.resolve()));
  }

  private run(name: string): Promise<void> {
    const job = this.jobs.get(name);
    if (job === undefined || this.closed) return Promise.resolve();
    job.running ??= this.execute(name, job).finally(() => {
      job.running = undefined;
    });
    return job.running;
  }

  private async execute(name: string, job: ScheduledJob): Promise<void> {
    job.runs += 1;
    try {
      await job.handler();
      job.lastError = undefined;
    } catch (error) {
      job.failures += 1;
      job.lastError = error instanceof Error ? error.message : String(error);
      this.onError(name, error);
    }
  }
}
