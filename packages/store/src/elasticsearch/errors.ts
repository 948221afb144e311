import { errors, type estypes } from '@elastic/elasticsearch';
import { SluiceError } from '@sluice/core';
import type { WriteOutcome } from '../port.ts';

// Every Elasticsearch failure is classified here, once: retryable (the store cannot take
// the request now; the same request can succeed later) or permanent (this request can never
// succeed; the worker isolates and dead-letters it). As the Elasticsearch client and Vector's
// sink do: connection errors, timeouts, 429 and 5xx are retried; a 4xx about the request is
// not. Decided classes beyond those (docs/elasticsearch.md, "Errors"):
// - 401/403 (credentials, role, cluster block) and 404 `index_not_found_exception` (the
//   write alias is missing: `sluice init` not run) are the store's state, not the request's:
//   retryable, so a revoked key or a missing init pauses the worker instead of
//   dead-lettering every event.
// - Anything not recognised (a bug, a serialisation failure) is permanent: retrying it
//   forever would stall the pipeline.

/** Why a request failed, and whether it can succeed later. */
interface Classified {
  readonly retryable: boolean;
  readonly reason: string;
}

/** HTTP statuses (of a whole response or of one bulk item) a later attempt can get past. */
function retryableStatus(status: number, type: string | undefined): boolean {
  if (status === 408 || status === 429 || status >= 500) return true;
  if (status === 401 || status === 403) return true;
  return status === 404 && type === 'index_not_found_exception';
}

function classifyError(error: unknown): Classified {
  if (error instanceof errors.ResponseError) {
    const body = error.body as { error?: { type?: string; reason?: string } } | string | undefined;
    const type = typeof body === 'object' ? body.error?.type : undefined;
    const detail = typeof body === 'object' && body.error !== undefined ? `${type ?? 'error'}: ${body.error.reason ?? ''}` : String(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 300);
    return { retryable: retryableStatus(error.statusCode ?? 0, type), reason: `HTTP ${String(error.statusCode)} ${detail}` };
  }
  // No answer at all (refused, reset, TLS, DNS, every node down), a timeout, a request we
  // aborted (shutdown), or an answer that was not Elasticsearch's JSON (a proxy's error
  // page): the path to the store, not the request.
  if (error instanceof errors.ConnectionError || error instanceof errors.TimeoutError || error instanceof errors.NoLivingConnectionsError || error instanceof errors.RequestAbortedError || error instanceof errors.DeserializationError) {
    return { retryable: true, reason: `${error.name}: ${error.message}` };
  }
  // SerializationError (our body cannot be written), ConfigurationError, ProductNotSupportedError, bugs.
  return { retryable: false, reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

/** Any failure of a request as the SluiceError callers get: retryable STORE_UNAVAILABLE or permanent STORE_REJECTED. */
export function storeError(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const { retryable, reason } = classifyError(error);
  return new SluiceError(retryable ? 'STORE_UNAVAILABLE' : 'STORE_REJECTED', `Elasticsearch: ${reason.slice(0, 1000)}`, { cause: error });
}

/** Runs a request; any failure becomes a classified SluiceError. */
export async function request<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw storeError(error);
  }
}

/** One bulk item: created, already there (409 on create), retryable or rejected, by the same rules. */
export function classifyItem(item: estypes.BulkResponseItem | undefined): WriteOutcome {
  if (!item) return { status: 'retryable', code: 'STORE_UNAVAILABLE', reason: 'no result for this item' };
  if (item.status === 201 || item.status === 200) return { status: 'created' };
  if (item.status === 409) return { status: 'exists' };
  const reason = `${item.error?.type ?? 'error'}: ${item.error?.reason ?? ''}`.slice(0, 1000);
  return retryableStatus(item.status, item.error?.type) ? { status: 'retryable', code: 'STORE_UNAVAILABLE', reason } : { status: 'rejected', code: 'STORE_REJECTED', reason };
}

/** True for an error response of this Elasticsearch error type (e.g. `resource_already_exists_exception`). */
export function isErrorType(error: unknown, type: string): boolean {
  return error instanceof errors.ResponseError && (error.body as { error?: { type?: string } } | undefined)?.error?.type === type;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof errors.ResponseError && error.statusCode === 404;
}
