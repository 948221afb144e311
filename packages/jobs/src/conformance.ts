import { afterEach, describe, expect, it } from '@jest/globals';
import type { Jobs } from './port.ts';

export interface JobsTestContext {
  readonly jobs: Jobs;
  /** Errors the adapter reported through its error callback. */
  readonly errors: unknown[];
  /**
   * Distributed adapters only: another replica of the same deployment (same Redis, same
   * prefix), to check that a run happens in one replica and runs never overlap across them.
   */
  readonly replica?: () => Jobs;
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

    it('runs a defined job on demand with its data and returns its result', async () => {
      const { jobs } = await open();
      const seen: unknown[] = [];
      jobs.define('echo', async (data) => {
        seen.push(data);
        return { doubled: Number(data.n) * 2 };
      });
      await expect(jobs.runNow('echo', { n: 21 })).resolves.toEqual({ doubled: 42 });
      expect(seen).toEqual([{ n: 21 }]);
    });

    it('rejects runNow with the error of a failing run, and of an unknown job', async () => {
      const { jobs, errors } = await open();
      jobs.define('broken', async () => {
        throw new Error('cause not fixed');
      });
      await expect(jobs.runNow('broken')).rejects.toThrow('cause not fixed');
      await expect(jobs.runNow('nobody')).rejects.toThrow('no job named nobody');
      expect(errors.length).toBe(1);
    });

    it('runs requests one after another, none lost', async () => {
      const { jobs } = await open();
      let active = 0;
      let maxActive = 0;
      const order: number[] = [];
      jobs.define('serial', async (data) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(30);
        order.push(Number(data.i));
        active -= 1;
      });
      await Promise.all([0, 1, 2, 3].map((i) => jobs.runNow('serial', { i })));
      expect(order.sort()).toEqual([0, 1, 2, 3]);
      expect(maxActive).toBe(1);
    });

    it('runs a scheduled job in one replica per tick, never overlapping across replicas', async () => {
      const { jobs, replica } = await open();
      if (replica === undefined) return; // one process is the whole cluster
      const others = [replica(), replica()];
      let runs = 0;
      let active = 0;
      let maxActive = 0;
      const handler = async () => {
        runs += 1;
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(40);
        active -= 1;
      };
      for (const each of [jobs, ...others]) each.every('cluster-tick', 200, handler);
      await sleep(1500);
      await Promise.all(others.map((other) => other.close()));
      // Each replica alone would run it ~7 times; together they must not run it more often.
      expect(runs).toBeGreaterThanOrEqual(4);
      expect(runs).toBeLessThanOrEqual(9);
      expect(maxActive).toBe(1);
    });

    it('reports health', async () => {
      const { jobs } = await open();
      expect(await jobs.health()).toMatchObject({ ok: true, adapter: adapterName });
    });
  });
}
