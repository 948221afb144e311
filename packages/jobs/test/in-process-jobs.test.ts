import { InProcessJobs } from '../src/index.ts';
import { runJobsConformance } from '../src/conformance.ts';

runJobsConformance('embedded', async () => {
  const errors: unknown[] = [];
  return { jobs: new InProcessJobs((_job, error) => errors.push(error)), errors, cleanup: async () => undefined };
});
