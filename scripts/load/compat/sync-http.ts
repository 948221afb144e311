// Synchronous HTTP for the k6 shims: k6's http.* return the answer, not a promise. synckit runs
// the request in a worker thread (http-worker.ts) and blocks this thread until it answers.
import { createSyncFn } from 'synckit';
import type { WireRequest, WireResponse } from './http-wire.ts';

let send: ((request: WireRequest) => WireResponse) | undefined;

/** Sends `request` and returns its answer; this thread waits (no event loop turn meanwhile). */
export function sendSync(request: WireRequest): WireResponse {
  // The worker's own wait is bounded by request.timeoutMs; this one only guards against a stuck worker.
  send ??= createSyncFn<(request: WireRequest) => Promise<WireResponse>>(new URL('./http-worker.ts', import.meta.url).pathname, { timeout: 120_000 });
  return send(request);
}
