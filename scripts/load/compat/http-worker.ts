// The worker thread behind k6's synchronous http.*: synckit blocks the script's thread on
// Atomics.wait while this sends the request with fetch (undici) and reads the whole answer.
import { runAsWorker } from 'synckit';
import type { WireRequest, WireResponse } from './http-wire.ts';

/** k6 shows header names canonicalised (Go's http.CanonicalHeaderKey): content-type → Content-Type. */
function canonical(name: string): string {
  return name.split('-').map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase()).join('-');
}

async function send(request: WireRequest): Promise<WireResponse> {
  const started = performance.now();
  const bytesSent = request.body === null ? 0 : Buffer.byteLength(request.body);
  try {
    const response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, redirect: 'follow', signal: AbortSignal.timeout(request.timeoutMs) });
    const headersAt = performance.now();
    const body = await response.text();
    const done = performance.now();
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => (headers[canonical(name)] = value));
    return { status: response.status, statusText: `${response.status} ${response.statusText}`, headers, body, error: '', waitingMs: headersAt - started, receivingMs: done - headersAt, durationMs: done - started, bytesSent, bytesReceived: Buffer.byteLength(body) };
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    const message = `${(error as Error).message}${cause === undefined ? '' : `: ${cause}`}`;
    return { status: 0, statusText: '', headers: {}, body: '', error: message, waitingMs: 0, receivingMs: 0, durationMs: performance.now() - started, bytesSent, bytesReceived: 0 };
  }
}

runAsWorker(send);
