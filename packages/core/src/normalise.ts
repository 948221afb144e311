import type { EventTimeObject, IncomingEvent, JsonObject, RequestMetadata, TrackPayload, TrackedEvent } from './event.ts';
import { SluiceError } from './errors.ts';
import { newEventId } from './ids.ts';
import { formatEventTime, parseEventTime } from './time.ts';

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
  const times = typeof event.time === 'object' ? storedTimes(event.time) : undefined;
  const tracked: TrackedEvent = {
    id,
    type: event.type,
    sourceId: payload.source.id,
    sessionId: ctx.sessionId,
    profileId: ctx.profileId,
    time: typeof event.time === 'string' ? clientTime(event.time) : (times?.create ?? times?.insert ?? ctx.receivedAt),
    receivedAt: ctx.receivedAt,
    properties: merge(payload.properties, event.properties),
    context: merge(payload.context, event.context),
    tags: event.tags ?? [],
    metadata: ctx.metadata,
  };
  // Optional fields only when sent, so that events of clients that send none keep their shape.
  if (times !== undefined) tracked.times = times;
  if (payload.device !== undefined) tracked.device = payload.device;
  if (payload.options !== undefined || event.options !== undefined) tracked.options = merge(payload.options, event.options);
  return tracked;
}

/**
 * Tracardi's time object with each time in the stored form. The event's `time` is then
 * `create` (when it happened, as Tracardi reads it), else `insert` (when the client collected
 * it), else the receive time; `update` (a later change) never is.
 */
function storedTimes(time: EventTimeObject): EventTimeObject {
  const stored: EventTimeObject = {};
  if (time.create !== undefined) stored.create = clientTime(time.create);
  if (time.insert !== undefined) stored.insert = clientTime(time.insert);
  if (time.update !== undefined) stored.update = clientTime(time.update);
  return stored;
}

/** `2026-12-01T17:02:53.000Z`: UTC, milliseconds (`formatEventTime`'s output for years 0001–9999). */
const STORED_FORM = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A client time in the one form the store keeps (UTC, milliseconds); the schema admitted only times this reads. */
function clientTime(text: string): string {
  // Already the stored form (what SDKs that send toISOString() send): kept as it is.
  if (STORED_FORM.test(text) && !text.includes(':60.')) return text;
  const ms = parseEventTime(text);
  if (ms === undefined) throw new Error(`not an event time: ${JSON.stringify(text).slice(0, 64)}`);
  return formatEventTime(ms);
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
 * Throws PROPERTIES_TOO_LARGE when what a request expands to cannot be stored within bounds
 * (options and device, stored with each event too, count with properties and context):
 * - an event whose merged properties and context serialise to more than `maxPropertiesBytes`
 *   (named by index). A body small enough that no event can (`bodyBytes` known, see
 *   SERIALISED_GROWTH) is not measured;
 * - payload-level properties, context, options and device, which are copied into every event, when their
 *   copies would add more than `maxExpansionBytes` (a 64 KB request must not store 6 MB).
 */
export function assertPropertiesWithin(payload: TrackPayload, limits: { maxPropertiesBytes: number; maxExpansionBytes: number }, bodyBytes?: number): void {
  const copies = payload.events.length - 1;
  const hasShared = payload.properties !== undefined || payload.context !== undefined || payload.options !== undefined || payload.device !== undefined;
  if (hasShared && copies > 0 && (bodyBytes === undefined || bodyBytes * SERIALISED_GROWTH * copies > limits.maxExpansionBytes)) {
    const shared = serialisedSize(payload.properties) + serialisedSize(payload.context) + serialisedSize(payload.options) + serialisedSize(payload.device);
    if (shared * copies > limits.maxExpansionBytes) {
      throw new SluiceError('PROPERTIES_TOO_LARGE', `payload-level properties, context, options and device (${shared} bytes) are copied into each of ${payload.events.length} events, ${shared * copies} bytes more than the request; the limit is ${limits.maxExpansionBytes}`, {
        details: [{ path: '/properties', message: `${shared} bytes × ${copies} copies > ${limits.maxExpansionBytes}` }],
      });
    }
  }
  if (bodyBytes !== undefined && bodyBytes * SERIALISED_GROWTH <= limits.maxPropertiesBytes) return;
  payload.events.forEach((event, index) => {
    const size = serialisedSize(merge(payload.properties, event.properties)) + serialisedSize(merge(payload.context, event.context)) + serialisedSize(merge(payload.options, event.options)) + serialisedSize(payload.device);
    if (size > limits.maxPropertiesBytes) {
      throw new SluiceError('PROPERTIES_TOO_LARGE', `event ${index} carries ${size} bytes of properties, context, options and device; the limit is ${limits.maxPropertiesBytes}`, {
        details: [{ path: `/events/${index}/properties`, message: `${size} bytes > ${limits.maxPropertiesBytes}` }],
      });
    }
  });
}

function serialisedSize(value: JsonObject | undefined): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
}
