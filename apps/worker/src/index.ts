export { StorageWorker, type WorkerDeps, type DeadLetter } from './worker.ts';
export { profileAndSessionUpdates } from './profiles.ts';
export { startWorker } from './start.ts';
