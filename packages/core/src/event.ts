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

/**
 * The unit published on the bus: the events of one request, keyed by profile id. Fields
 * every event of the batch shares (source, session, profile, receive time, the request's
 * context and metadata, and the time when no event brought its own) travel once, in
 * `shared`; each event carries the rest. `{ events: TrackedEvent[] }` without `shared` is the
 * same message written out in full (what a dead-letter replay publishes).
 */
export interface EventBatchMessage {
  shared?: Partial<TrackedEvent>;
  events: Partial<TrackedEvent>[];
}

/** Every field of a tracked event, in the order they are written. */
const EVENT_FIELDS = ['id', 'type', 'sourceId', 'sessionId', 'profileId', 'time', 'receivedAt', 'properties', 'context', 'tags', 'metadata'] as const satisfies readonly (keyof TrackedEvent)[];

// A field added to TrackedEvent and missing above fails the build here (it would be dropped on the bus).
const EVENT_FIELDS_COMPLETE: [Exclude<keyof TrackedEvent, (typeof EVENT_FIELDS)[number]>] extends [never] ? true : never = true;
void EVENT_FIELDS_COMPLETE;

const SHAREABLE = ['sourceId', 'sessionId', 'profileId', 'receivedAt', 'time', 'context', 'metadata'] as const satisfies readonly (keyof TrackedEvent)[];

/** The events of one request as a bus message, shared fields once (a batch of 20 shrinks by about 60 %). */
export function encodeBatch(events: readonly TrackedEvent[]): EventBatchMessage {
  const [first] = events;
  if (first === undefined || events.length === 1) return { events: [...events] };
  const shared: Partial<Record<(typeof SHAREABLE)[number], unknown>> = {};
  for (const field of SHAREABLE) if (events.every((event) => event[field] === first[field])) shared[field] = first[field];
  if (Object.keys(shared).length === 0) return { events: [...events] };
  const own = EVENT_FIELDS.filter((field) => !(field in shared));
  return {
    shared: shared as Partial<TrackedEvent>,
    // Built field by field in one order (no spread and delete): one object shape, fast to serialise.
    events: events.map((event) => {
      const compact: Record<string, unknown> = {};
      for (const field of own) if (event[field] !== undefined) compact[field] = event[field];
      return compact;
    }),
  };
}

/** The tracked events of a bus message, or undefined when it is not an event batch. */
export function decodeBatch(value: unknown): TrackedEvent[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { shared, events } = value as { shared?: unknown; events?: unknown };
  if (!Array.isArray(events)) return undefined;
  if (shared === undefined) return events as TrackedEvent[];
  if (typeof shared !== 'object' || shared === null) return undefined;
  return events.map((event) => ({ ...(shared as Partial<TrackedEvent>), ...(event as Partial<TrackedEvent>) }) as TrackedEvent);
}
