import type { IncomingEvent, JsonObject, RequestMetadata, TrackPayload, TrackedEvent } from './event.ts';
import { SluiceError } from './errors.ts';
import { newEventId } from './ids.ts';

export interface NormaliseContext {
  profileId: string;
  sessionId: string;
  receivedAt: Date;
  metadata: RequestMetadata;
  /** Largest serialised size (bytes) of one event's properties and context together. */
  maxPropertiesBytes: number;
  /**
   * Size of the request body in bytes, when known: a small body needs no per-event
   * measurement (see SERIALISED_GROWTH).
   */
  bodyBytes?: number;
}

/**
 * How much larger parsed JSON can serialise than its source text: only number tokens grow
 * (`1e20`, 4 bytes, serialises as 21 digits: × 5.25); strings and structure never do, and an
 * event's merged properties and context are parts of one body. So when body × 6 fits the
 * limit, no event can exceed it.
 */
const SERIALISED_GROWTH = 6;

/**
 * Turns a validated payload into tracked events: ids resolved, times set, payload-level
 * context and properties merged under each event's own (the event's keys win).
 * Throws PROPERTIES_TOO_LARGE naming the first oversize event.
 */
export function normaliseTrack(payload: TrackPayload, ctx: NormaliseContext): TrackedEvent[] {
  const receivedAt = ctx.receivedAt.toISOString();
  const measure = ctx.bodyBytes === undefined || ctx.bodyBytes * SERIALISED_GROWTH > ctx.maxPropertiesBytes;
  return payload.events.map((event, index) => {
    const tracked = normaliseEvent(payload, event, ctx, receivedAt);
    if (measure) assertPropertiesSize(tracked, index, ctx.maxPropertiesBytes);
    return tracked;
  });
}

function normaliseEvent(payload: TrackPayload, event: IncomingEvent, ctx: NormaliseContext, receivedAt: string): TrackedEvent {
  return {
    id: event.id ?? newEventId(),
    type: event.type,
    sourceId: payload.source.id,
    sessionId: ctx.sessionId,
    profileId: ctx.profileId,
    time: event.time === undefined ? receivedAt : new Date(event.time).toISOString(),
    receivedAt,
    properties: merge(payload.properties, event.properties),
    context: merge(payload.context, event.context),
    tags: event.tags ?? [],
    metadata: ctx.metadata,
  };
}

function merge(base: JsonObject | undefined, own: JsonObject | undefined): JsonObject {
  if (base === undefined) return own ?? {};
  if (own === undefined) return base;
  return { ...base, ...own };
}

function assertPropertiesSize(event: TrackedEvent, index: number, maxBytes: number): void {
  const size = Buffer.byteLength(JSON.stringify(event.properties)) + Buffer.byteLength(JSON.stringify(event.context));
  if (size > maxBytes) {
    throw new SluiceError('PROPERTIES_TOO_LARGE', `event ${index} carries ${size} bytes of properties and context; the limit is ${maxBytes}`, {
      details: [{ path: `/events/${index}/properties`, message: `${size} bytes > ${maxBytes}` }],
    });
  }
}
