/**
 * The one error catalogue. Every error Sluice reports to a client or an operator has a
 * stable `code` here, the HTTP status it maps to, and whether retrying can succeed.
 * `docs/errors.md` is kept in sync with this table by a test.
 */
export interface ErrorSpec {
  /** HTTP status the error answers with when it reaches a client. */
  readonly statusCode: number;
  /** True when the same request may succeed later without change. */
  readonly retryable: boolean;
  /** What it means and what to do, for docs/errors.md. */
  readonly description: string;
}

export const ERROR_CATALOGUE = {
  INVALID_JSON: { statusCode: 400, retryable: false, description: 'The request body is not valid JSON.' },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, retryable: false, description: 'The body must be sent as application/json (or text/plain holding JSON, as sendBeacon does).' },
  BODY_TOO_LARGE: { statusCode: 413, retryable: false, description: 'The request body is larger than TRACK_MAX_BODY_SIZE.' },
  VALIDATION_FAILED: { statusCode: 400, retryable: false, description: 'The body, query string or path parameters do not match their schema, or the body holds a refused key (`__proto__`, `constructor`, a key holding U+0000); `details` lists each bad field by its JSON path.' },
  TOO_MANY_EVENTS: { statusCode: 413, retryable: false, description: 'More events in one request than TRACK_MAX_EVENTS; split the batch.' },
  PROPERTIES_TOO_LARGE: { statusCode: 413, retryable: false, description: 'An event\'s properties and context together are larger than TRACK_MAX_PROPERTIES_SIZE once serialised, or payload-level properties and context, copied into every event, would add more than TRACK_MAX_BODY_SIZE to what is stored.' },
  NESTING_TOO_DEEP: { statusCode: 400, retryable: false, description: 'The body nests objects and arrays deeper than TRACK_MAX_DEPTH; checked before the body is parsed.' },
  TOO_MANY_KEYS: { statusCode: 413, retryable: false, description: 'The body holds more object members (key–value pairs, all levels) than TRACK_MAX_KEYS.' },
  DUPLICATE_EVENT_ID: { statusCode: 400, retryable: false, description: 'Two events of one request carry the same `id`; `details` names the later one. Ids are unique within a source.' },
  SOURCE_NOT_FOUND: { statusCode: 401, retryable: false, description: 'The source id is unknown. Create it with `sluice sources add` or the admin API.' },
  SOURCE_DISABLED: { statusCode: 403, retryable: false, description: 'The source exists but is disabled.' },
  ORIGIN_NOT_ALLOWED: { statusCode: 403, retryable: false, description: 'The browser Origin is not in the source\'s allowed origins.' },
  UNAUTHORIZED: { statusCode: 401, retryable: false, description: 'The admin API needs `Authorization: Bearer <ADMIN_TOKEN>`.' },
  ADMIN_DISABLED: { statusCode: 403, retryable: false, description: 'ADMIN_TOKEN is not set, so the admin and read API are off.' },
  NOT_FOUND: { statusCode: 404, retryable: false, description: 'No such resource (route, profile, source).' },
  CONFLICT: { statusCode: 409, retryable: false, description: 'The resource already exists.' },
  INVALID_CURSOR: { statusCode: 400, retryable: false, description: 'The paging cursor is malformed; use the `next` value of the previous page.' },
  MALFORMED_REQUEST: { statusCode: 400, retryable: false, description: 'The request is not valid HTTP/1.1 (for example a bad or duplicated Content-Length, Content-Length with chunked encoding, a malformed header line or URL). The connection is closed.' },
  METHOD_NOT_ALLOWED: { statusCode: 405, retryable: false, description: 'The path exists but not with this method; the `Allow` header lists the methods it takes.' },
  REQUEST_TIMEOUT: { statusCode: 408, retryable: true, description: 'The request headers did not arrive within HTTP_HEADERS_TIMEOUT, or the whole request within HTTP_REQUEST_TIMEOUT. The connection is closed; send the request again at once.' },
  URI_TOO_LONG: { statusCode: 414, retryable: false, description: 'A path segment is longer than any id Sluice accepts (ids are at most 128 characters, 384 once percent-encoded).' },
  HEADERS_TOO_LARGE: { statusCode: 431, retryable: false, description: 'The request line and headers together are larger than 16 KiB (Node.js\'s limit). The connection is closed.' },
  RATE_LIMITED: { statusCode: 429, retryable: true, description: 'The source sent more events per second than its rate limit (the source\'s `rateLimit`, else TRACK_RATE_LIMIT), counted across every API replica. Nothing of the request was accepted; send it again after `Retry-After` seconds.' },
  CACHE_UNAVAILABLE: { statusCode: 503, retryable: true, description: 'A profile merge was recorded in the store, but the profile cache did not take it, so replicas could go on resolving the merged profile from their cached entry for up to KEEP_PROFILE_IN_CACHE_FOR. Send the same merge again after `Retry-After` seconds (merges are idempotent).' },
  BUS_UNAVAILABLE: { statusCode: 503, retryable: true, description: 'The bus did not acknowledge the events in time. Retry the same body after `Retry-After` seconds: Sluice remembers the ids it gave this body (TRACK_RETRY_MEMORY), so the events are stored once even if the first attempt reached the bus after all.' },
  SHUTTING_DOWN: { statusCode: 503, retryable: true, description: 'The process is shutting down; retry on another replica.' },
  STORE_UNAVAILABLE: { statusCode: 503, retryable: true, description: 'The event store could not answer; retry later.' },
  STORE_REJECTED: { statusCode: 500, retryable: false, description: 'The store rejected an event permanently (for example a mapping conflict); the event is dead-lettered with this reason.' },
  MESSAGE_INVALID: { statusCode: 500, retryable: false, description: 'A bus message is not a valid version-1 events message (not JSON, too deep, wrong shape); the worker dead-letters it as received, with the reason. Never sent to clients.' },
  CONFIG_INVALID: { statusCode: 500, retryable: false, description: 'The environment holds invalid values; the process lists every problem and stops.' },
  // Segment-compatible API (/v1/batch and its siblings, beacons, pixels): apps/api/src/segment.
  WRITE_KEY_MISSING: { statusCode: 401, retryable: false, description: 'A Segment-compatible route got no write key. Send the source id as the HTTP Basic user (empty password), as `writeKey` in the body, or as `?writeKey=` on the beacon and pixel routes.' },
  BODY_ENCODING_INVALID: { statusCode: 400, retryable: false, description: 'The body is labelled `Content-Encoding: gzip` or `deflate` but does not inflate (corrupt or truncated data).' },
  SEGMENT_BATCH_TOO_LARGE: { statusCode: 413, retryable: false, description: 'A Segment-compatible request body, once inflated, is larger than SEGMENT_MAX_BATCH_SIZE (batch and import routes) or SEGMENT_MAX_EVENT_SIZE (single-call routes). Inflating stops at the limit, so a compression bomb costs no memory. Split the batch.' },
  SEGMENT_EVENT_TOO_LARGE: { statusCode: 413, retryable: false, description: 'One event of a Segment batch serialises to more than SEGMENT_MAX_EVENT_SIZE. Not sent to clients: the event is dead-lettered with this code and its neighbours are stored.' },
  SEGMENT_EVENT_INVALID: { statusCode: 400, retryable: false, description: 'One event of a Segment-compatible request cannot be tracked: not an object, an unknown `type`, a `track` without `event`, neither a usable `userId` nor `anonymousId`, a field of the wrong type, or a time that is not RFC 3339. Not sent to clients: the event is dead-lettered with this code and the reason, and its neighbours are stored.' },
  // Configuration store (issue 13): event types and their schemas, the MySQL pool.
  EVENT_INVALID: { statusCode: 422, retryable: false, description: 'An event does not match the JSON Schema of its event type, whose policy is `reject`: nothing of the request was accepted. `details` names the event by its index and the failing field by its JSON pointer (`/events/2/properties/price`). 422, not 400: the request is well-formed; the operator\'s schema refuses its content. With the `dead-letter` policy the request is answered 200 instead and the event is dead-lettered with this code.' },
  EVENT_TYPE_UNKNOWN: { statusCode: 422, retryable: false, description: 'An event\'s `type` is not a configured event type and its source refuses unknown types (`allowUnknownEventTypes: false`). Add the type (`sluice event-types add`) or allow unknown types on the source.' },
  CONFIG_UNAVAILABLE: { statusCode: 503, retryable: true, description: 'The configuration store (MySQL) could not answer an admin call: unreachable, or a query took longer than MYSQL_QUERY_TIMEOUT. Tracking keeps serving from each replica\'s cached configuration; retry the admin call later.' },
  POOL_TIMEOUT: { statusCode: 503, retryable: true, description: 'No MySQL connection became free within MYSQL_POOL_TIMEOUT (every connection of this replica\'s pool is busy). Retry later; see docs/mysql.md for pool sizing.' },
  INTERNAL: { statusCode: 500, retryable: false, description: 'An unexpected error; it is logged with its cause.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface ErrorDetail {
  /** JSON path of the offending field, e.g. `/events/0/type`. */
  readonly path: string;
  readonly message: string;
}

/** Base class of every Sluice error: a stable code, retryability, details and a cause. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly details: readonly ErrorDetail[];
  /** When to try again, s (HTTP `Retry-After`); set where the answer knows it (RATE_LIMITED). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: readonly ErrorDetail[]; retryable?: boolean; retryAfterSeconds?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.statusCode = ERROR_CATALOGUE[code].statusCode;
    this.retryable = options.retryable ?? ERROR_CATALOGUE[code].retryable;
    this.details = options.details ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isSluiceError(value: unknown): value is SluiceError {
  return value instanceof SluiceError;
}

/**
 * True when an error says that retrying can succeed. Adapters classify what their engines
 * throw into SluiceErrors once; an error that reaches here unclassified is a bug or bad
 * data, and retrying it without end would stall the pipeline, so it is not retryable.
 */
export function isRetryable(error: unknown): boolean {
  return isSluiceError(error) && error.retryable;
}

/** The HTTP error body: `{ statusCode, code, error, message, details? }`. */
export interface HttpErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  details?: readonly ErrorDetail[];
}

/** Renders docs/errors.md from the catalogue. The output is generated; a test keeps it fresh. */
export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(([code, spec]) => `| \`${code}\` | ${spec.statusCode} | ${spec.retryable ? 'yes' : 'no'} | ${spec.description} |`);
  return [
    '<!-- Generated by `npm run docs:generate` from packages/core/src/errors.ts. Do not edit by hand. -->',
    '# Error codes',
    '',
    'Every error Sluice returns over HTTP has this shape:',
    '',
    '```json',
    '{ "statusCode": 400, "code": "VALIDATION_FAILED", "error": "Bad Request", "message": "/events/0: must have property \\"type\\"", "details": [{ "path": "/events/0", "message": "must have property \\"type\\"" }] }',
    '```',
    '',
    'Branch on `code`, never on `message`. Retryable errors (429, 503) carry `Retry-After`.',
    '',
    '| Code | HTTP | Retryable | Meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
