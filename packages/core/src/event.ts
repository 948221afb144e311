/** A JSON object as it arrives from a client. */
export type JsonObject = Record<string, unknown>;

/**
 * Tracardi's time object (`events[].time`), each an RFC 3339 date-time: `create`, when the
 * event happened on the client; `insert`, when it was collected; `update`, when it last
 * changed. Tracardi's browser tracker sends `{ "create": "<ISO>" }`.
 */
export interface EventTimeObject {
  create?: string;
  insert?: string;
  update?: string;
}

/** One event in a `/track` payload, as the client sends it. */
export interface IncomingEvent {
  id?: string;
  type: string;
  /** An RFC 3339 date-time, or Tracardi's time object. */
  time?: string | EventTimeObject;
  properties?: JsonObject;
  context?: JsonObject;
  options?: JsonObject;
  tags?: string[];
}

/** The Tracardi-style `/track` payload. */
export interface TrackPayload {
  source: { id: string };
  session?: { id?: string };
  profile?: { id?: string };
  context?: JsonObject;
  properties?: JsonObject;
  options?: JsonObject;
  /** The client device (Tracardi's tracker sends `{ id }`), stored with each event. */
  device?: JsonObject;
  events: IncomingEvent[];
}

/** What the API learned about the request itself, outside the body. */
export interface RequestMetadata {
  ip?: string;
  userAgent?: string;
  origin?: string;
  /** The `X-Timestamp` header as sent (Tracardi's tracker: the client clock, ms), at most 64 characters. */
  clientTimestamp?: string;
}

/**
 * An event after normalisation: every id is resolved and the server receive time set.
 * This is what travels on the bus and what the store keeps.
 */
export interface TrackedEvent {
  /** Client-supplied id, else a server UUIDv7. The store's idempotency key. */
  id: string;
  type: string;
  sourceId: string;
  sessionId: string;
  profileId: string;
  /** When the event happened (client time if given, else `receivedAt`), ISO-8601 UTC. */
  time: string;
  /** When the API received it, ISO-8601 UTC. */
  receivedAt: string;
  properties: JsonObject;
  context: JsonObject;
  tags: string[];
  metadata: RequestMetadata;
  /** Tracardi's time object as the client sent it, each time in the stored form; present only when `time` was one. */
  times?: EventTimeObject;
  /** The payload's `device`, as sent; present only when sent. */
  device?: JsonObject;
  /** Payload-level `options` merged under the event's own (the event's keys win); present only when either was sent. */
  options?: JsonObject;
}
