/** A JSON object as it arrives from a client. */
export type JsonObject = Record<string, unknown>;

/** One event in a `/track` payload, as the client sends it. */
export interface IncomingEvent {
  id?: string;
  type: string;
  time?: string;
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
  events: IncomingEvent[];
}

/** What the API learned about the request itself, outside the body. */
export interface RequestMetadata {
  ip?: string;
  userAgent?: string;
  origin?: string;
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
}
