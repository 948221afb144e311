export * from './port.ts';
export { InProcessJobs } from './embedded/in-process-jobs.ts';
export { BullMqJobs, type BullMqJobsOptions } from './bullmq/bullmq-jobs.ts';
