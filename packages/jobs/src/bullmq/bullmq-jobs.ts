import { Job, Queue, QueueEvents, Worker, type ConnectionOptions } from 'bullmq';

/** How often runNow checks the run's state itself, beside BullMQ's queue events. */
const FINISHED_POLL_MS = 250;
import type { DependencyHealth } from '@sluice/observability';
import type { JobData, JobHandler, JobResult, Jobs } from '../port.ts';

export interface BullMqJobsOptions {
  /** Redis URL (`redis://host:port/db` or `rediss://` for TLS). */
  readonly url: string;
  readonly password?: string;
  /** Key prefix in Redis; one per Sluice deployment sharing a Redis. */
  readonly prefix: string;
  /** How long `close` waits for callers of `runNow` to hear about runs that just finished. */
  readonly closeGraceMs?: number;
}

interface RegisteredJob {
  readonly queue: Queue;
  readonly events: QueueEvents;
  readonly worker: Worker;
  readonly ready: Promise<void>;
  runs: number;
  failures: number;
  lastError: string | undefined;
}

/**
 * Jobs on BullMQ: one queue per job with a global concurrency of 1, so a run happens in
 * exactly one replica and two runs of a job never overlap anywhere in the cluster. A
 * schedule is a BullMQ job scheduler (upserted by every replica, stored once in Redis); a
 * replica that dies mid-run loses its lock and another replica runs the job again.
 */
export class BullMqJobs implements Jobs {
  private readonly jobs = new Map<string, RegisteredJob>();
  private readonly waiting = new Set<Promise<unknown>>();
  /** Rejects the runNow callers still waiting when close gives up on them. */
  private readonly abandoned = Promise.withResolvers<never>();
  private readonly connection: ConnectionOptions;
  private closing: Promise<void> | undefined;

  private readonly options: BullMqJobsOptions;
  private readonly onError: (job: string, error: unknown) => void;

  constructor(options: BullMqJobsOptions, onError: (job: string, error: unknown) => void) {
    this.options = options;
    this.onError = onError;
    // Workers block on Redis: their commands must wait through a reconnect, never fail.
    this.connection = { url: options.url, ...(options.password === undefined ? {} : { password: options.password }), maxRetriesPerRequest: null };
  }

  every(name: string, intervalMs: number, handler: JobHandler): void {
    const job = this.register(name, handler, async (queue) => {
      await queue.upsertJobScheduler(name, { every: intervalMs }, { name, data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } });
    });
    job.ready.catch((error: unknown) => this.onError(name, error));
  }

  define(name: string, handler: JobHandler): void {
    this.register(name, handler, async () => undefined).ready.catch((error: unknown) => this.onError(name, error));
  }

  runNow(name: string, data: JobData = {}): Promise<JobResult> {
    const job = this.jobs.get(name);
    if (job === undefined) return Promise.reject(new Error(`no job named ${name}`));
    if (this.closing !== undefined) return Promise.reject(new Error(`jobs are closed; ${name} did not run`));
    const run = Promise.race([this.addAndWait(job, name, data), this.abandoned.promise]);
    this.waiting.add(run);
    void run.catch(() => undefined).finally(() => this.waiting.delete(run));
    return run;
  }

  private async addAndWait(job: RegisteredJob, name: string, data: JobData): Promise<JobResult> {
    await job.ready;
    const added = await job.queue.add(name, data, { removeOnComplete: 100, removeOnFail: 100 });
    // Queue events can miss a run that finished before their stream was read: poll as well.
    const finished = new AbortController();
    try {
      return ((await Promise.race([added.waitUntilFinished(job.events), this.pollUntilFinished(job.queue, added.id ?? '', finished.signal)])) as JobResult | null) ?? undefined;
    } finally {
      finished.abort();
    }
  }

  private async pollUntilFinished(queue: Queue, id: string, signal: AbortSignal): Promise<unknown> {
    while (!signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, FINISHED_POLL_MS));
      const run = await Job.fromId(queue, id);
      if (run === undefined) continue;
      if (run.finishedOn !== undefined && run.failedReason !== undefined && run.failedReason !== '') throw new Error(run.failedReason);
      if (run.finishedOn !== undefined) return run.returnvalue;
    }
    return undefined;
  }

  async health(): Promise<DependencyHealth> {
    const jobs: Record<string, unknown> = {};
    let ok = this.closing === undefined;
    for (const [name, job] of this.jobs) {
      let counts: Record<string, number> = {};
      try {
        counts = await job.queue.getJobCounts('active', 'waiting', 'delayed', 'failed');
      } catch {
        ok = false;
      }
      jobs[name] = { runs: job.runs, failures: job.failures, lastError: job.lastError, running: job.worker.isRunning(), queue: counts };
    }
    return { ok, adapter: 'bullmq', detail: { prefix: this.options.prefix, jobs } };
  }

  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    // Runs asked for in this process finish first (bounded): close means "after my work".
    const grace = new Promise((resolve) => setTimeout(resolve, this.options.closeGraceMs ?? 5000).unref());
    await Promise.race([Promise.allSettled([...this.waiting]), grace]);
    void this.abandoned.promise.catch(() => undefined);
    this.abandoned.reject(new Error('jobs closed before the run finished; it stays queued for another replica'));
    const jobs = [...this.jobs.values()];
    // Each worker waits for its running job, so the run's outcome reaches Redis.
    await Promise.all(jobs.map((job) => job.worker.close()));
    await Promise.all(jobs.flatMap((job) => [job.events.close(), job.queue.close()]));
  }

  private register(name: string, handler: JobHandler, setUp: (queue: Queue) => Promise<void>): RegisteredJob {
    if (this.jobs.has(name)) throw new Error(`job ${name} is already registered`);
    const shared = { connection: this.connection, prefix: this.options.prefix };
    const queue = new Queue(name, shared);
    const events = new QueueEvents(name, shared);
    const worker = new Worker(
      name,
      async (run: Job) => {
        registered.runs += 1;
        try {
          const result = (await handler(run.data as JobData)) ?? null;
          registered.lastError = undefined;
          return result;
        } catch (error) {
          // Reported here, before BullMQ marks the job failed (and a runNow caller hears it).
          registered.failures += 1;
          registered.lastError = error instanceof Error ? error.message : String(error);
          this.onError(name, error);
          throw error;
        }
      },
      { ...shared, concurrency: 1, autorun: false },
    );
    const registered: RegisteredJob = {
      queue,
      events,
      worker,
      runs: 0,
      failures: 0,
      lastError: undefined,
      ready: (async () => {
        // At most one run of this job at a time, across every replica.
        await queue.setGlobalConcurrency(1);
        await setUp(queue);
        await events.waitUntilReady();
        void worker.run().catch((error: unknown) => this.onError(name, error));
      })(),
    };
    worker.on('error', (error) => this.onError(name, error));
    this.jobs.set(name, registered);
    return registered;
  }
}
