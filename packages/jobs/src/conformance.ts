import { afterEach, describe, expect, it } from '@jest/globals';
import type { Jobs } from './port.ts';

export interface JobsTestContext {
  readonly jobs: Jobs;
  /** Errors the adapter reported through its error callback. */
  readonly errors: unknown[];
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The Jobs contract. Every adapter runs it unchanged. */
export function runJobsConformance(adapterName: string, createContext: () => Promise<JobsTestContext>): void {
  describe(`Jobs conformance: ${adapterName}`, () => {
    let context: JobsTestContext | undefined;
    const open = async () => {
      context = await createContext();
      return context;
    };

    afterEach(async () => {
      await context?.jobs.close();
      await context?.cleanup();
      context = undefined;
    });

    it('runs a job repeatedly at its interval', async () => {
      const { jobs } = await open();
      let runs = 0;
      jobs.every('tick', 100, async () => {
        runs += 1;
      });
      await sleep(650);
      expect(runs).toBeGreaterThanOrEqual(3);
    });

    it('never overlaps two runs of one job', async () => {
      const { jobs } = await open();
      let active = 0;
      let maxActive = 0;
      jobs.every('slow', 50, async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(200);
        active -= 1;
      });
      await Promise.all([jobs.runNow('slow'), jobs.runNow('slow'), sleep(500)]);
      expect(maxActive).toBe(1);
    });

    it('keeps the schedule after a failing run and reports the error', async () => {
      const { jobs, errors } = await open();
      let runs = 0;
      jobs.every('flaky', 100, async () => {
        runs += 1;
        if (runs === 1) throw new Error('boom');
      });
      await sleep(450);
      expect(runs).toBeGreaterThanOrEqual(2);
      expect(errors.length).toBe(1);
    });

    it('waits for a running job on close and runs nothing after', async () => {
      const { jobs } = await open();
      let finished = false;
      let runs = 0;
      jobs.every('closing', 50, async () => {
        runs += 1;
        await sleep(150);
        finished = true;
      });
      const running = jobs.runNow('closing');
      await jobs.close();
      expect(finished).toBe(true);
      const after = runs;
      await sleep(200);
      expect(runs).toBe(after);
      await running;
      await jobs.close();
    });

    it('reports health', async () => {
      const { jobs } = await open();
      expect(await jobs.health()).toMatchObject({ ok: true, adapter: adapterName });
    });
  });
}
