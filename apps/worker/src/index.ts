export { StorageWorker, type WorkerDeps } from './worker.ts';
export { profileAndSessionUpdates } from './profiles.ts';
export { startWorker } from './start.ts';
