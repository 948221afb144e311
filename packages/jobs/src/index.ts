export * from './port.ts';
export { InProcessJobs } from './embedded/in-process-jobs.ts';
