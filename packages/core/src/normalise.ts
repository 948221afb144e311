import type { IncomingEvent, JsonObject, RequestMetadata, TrackPayload, TrackedEvent } from './event.ts';
import { SluiceError } from './errors.ts';
import { newEventId } from './ids.ts';

export interface NormaliseContext {
  profileId: string;
  sessionId: string;
  /** When the API received the request, ISO-8601 UTC. */
  receivedAt: string;
  metadata: RequestMetadata;
  /** The id of each event, in order, as the API chose them (`eventIds`). */
  ids: readonly string[];
}

/**
 * Turns a validated payload into tracked events: ids resolved, times set, payload-level
 * context and properties merged under each event's own (the event's keys win). Pure: the
 * storage worker runs it on the payload as the API received it.
 */
export function normaliseTrack(payload: TrackPayload, ctx: NormaliseContext): TrackedEvent[] {
  if (ctx.ids.length !== payload.events.length) throw new Error(`${String(ctx.ids.length)} ids for ${String(payload.events.length)} events`);
  return payload.events.map((event, index) => normaliseEvent(payload, event, ctx, ctx.ids[index] as string));
}

/** The id of each event of a payload: the client's where it sent one, else a new UUIDv7. */
export function eventIds(payload: TrackPayload): string[] {
  return payload.events.map((event) => event.id ?? newEventId());
}

function normaliseEvent(payload: TrackPayload, event: IncomingEvent, ctx: NormaliseContext, id: string): TrackedEvent {
  return {
    id,
    type: event.type,
    sourceId: payload.source.id,
    sessionId: ctx.sessionId,
    profileId: ctx.profileId,
    time: event.time === undefined ? ctx.receivedAt : new Date(event.time).toISOString(),
    receivedAt: ctx.receivedAt,
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

/**
 * How much larger parsed JSON can serialise than its source text: only number tokens grow
 * (`1e20`, 4 bytes, serialises as 21 digits: × 5.25); strings and structure never do, and an
 * event's merged properties and context are parts of one body. So when body × 6 fits the
 * limit, no event can exceed it.
 */
const SERIALISED_GROWTH = 6;

/**
 * Throws PROPERTIES_TOO_LARGE naming the first event whose merged properties and context
 * serialise to more than `maxBytes`. A body small enough that no event can (`bodyBytes`
 * known, see SERIALISED_GROWTH) is not measured.
 */
export function assertPropertiesWithin(payload: TrackPayload, maxBytes: number, bodyBytes?: number): void {
  if (bodyBytes !== undefined && bodyBytes * SERIALISED_GROWTH <= maxBytes) return;
  payload.events.forEach((event, index) => {
    const size = Buffer.byteLength(JSON.stringify(merge(payload.properties, event.properties))) + Buffer.byteLength(JSON.stringify(merge(payload.context, event.context)));
    if (size > maxBytes) {
      throw new SluiceError('PROPERTIES_TOO_LARGE', `event ${index} carries ${size} bytes of properties and context; the limit is ${maxBytes}`, {
        details: [{ path: `/events/${index}/properties`, message: `${size} bytes > ${maxBytes}` }],
      });
    }
  });
}
