export { buildApi, type Api, type ApiDeps } from './app.ts';
export type { TrackResponse } from './routes/track.ts';
export { startApi } from './start.ts';
