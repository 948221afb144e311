// The request and answer that cross from the script's thread to the HTTP worker (structured-cloned).

export interface WireRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  timeoutMs: number;
}

export interface WireResponse {
  /** 0 when the request failed before an answer (error says why). */
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
  error: string;
  /** Milliseconds: from sending to the answer's headers, and from there to its last byte. */
  waitingMs: number;
  receivingMs: number;
  durationMs: number;
  bytesSent: number;
  bytesReceived: number;
}
