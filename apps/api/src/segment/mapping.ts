import { createHash } from 'node:crypto';
import { MAX_ID_LENGTH, idString, newEventId, type ErrorCode, type IncomingEvent, type JsonObject } from '@sluice/core';
import { segmentEventTime } from './event-time.ts';

/**
 * One Segment message (a `track`, `page` … call) mapped to a Sluice event, faithfully:
 * - the stored `type` is the Segment call type (`track`, `page`, `screen`, `identify`,
 *   `group`, `alias`), never the free-form event name, so that no real event name
 *   ("Coupon Applied (10% off) – Sommer/2025") can fail Sluice's `type` pattern;
 * - `properties` are the message's `properties` as sent;
 * - `context` is the message's `context` as sent (ip, userAgent, page, library, traits …,
 *   the batch's own `context` beneath it), plus `context.segment`: every other field of the
 *   message exactly as sent — `messageId`, `event`, `name`, `category`, `userId`,
 *   `anonymousId`, `previousId`, `groupId`, `traits`, `integrations`, the times — except the
 *   write key. A `segment` key of the sender's own context is kept as `context.segment.contextSegment`.
 * - the event id is the `messageId` when it is a valid Sluice id, else `m-` and the SHA-256
 *   (hex) of it, so a resend of the message is stored once either way; without a
 *   `messageId` (every SDK sends one) a new UUIDv7;
 * - the time follows Segment's rule (`segmentEventTime`).
 */

export const SEGMENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** A mapped message: the Sluice event (without its profile) and the ids that decide its profile. */
export interface SegmentDraft {
  readonly type: SegmentType;
  readonly eventId: string;
  /** The usable ids (blank ones such as `null` or `anonymous` are absent), as strings. */
  readonly anonymousId: string | undefined;
  readonly userId: string | undefined;
  /** `alias` only: the id being merged into `userId`. */
  readonly previousId: string | undefined;
  /** `context.sessionId` when it is a valid Sluice id. */
  readonly sessionId: string | undefined;
  readonly event: IncomingEvent & { readonly time: string };
}

/** An event that cannot be tracked: its code and reason, and its draft where one could be made (a dead letter then replays as that event). */
export interface SegmentProblem {
  readonly code: ErrorCode;
  readonly reason: string;
  readonly draft?: SegmentDraft;
}

export type MappedMessage = { readonly ok: true; readonly draft: SegmentDraft } | ({ readonly ok: false } & SegmentProblem);

/** What a batch gives each of its messages (Segment: batch-level `context` and `integrations` apply to every event). */
export interface BatchDefaults {
  readonly context?: JsonObject;
  readonly integrations?: JsonObject;
  readonly sentAt?: unknown;
}

export interface MappingOptions {
  readonly receivedAtMs: number;
  readonly maxEventBytes: number;
  /** The call type of a single-call route (`/v1/track` …); a batch item names its own. */
  readonly routeType?: SegmentType;
}

/** Ids that never identify anyone (PostHog's list and the like): treated as absent, never bound or merged. */
const BLANK_IDS = new Set(['', '0', '-1', 'null', 'undefined', 'nil', 'none', 'nan', 'true', 'false', 'anonymous', 'guest', 'id', 'distinctid', 'distinct_id', 'not_authenticated', 'email', '[object object]']);
/** How many blank ids there are (in lower case): what a listing of ids asks for beyond its cap, to list the cap after leaving them out. */
export const BLANK_ID_COUNT = BLANK_IDS.size;

const SLUICE_ID = new RegExp(idString.pattern);

export function mapSegmentMessage(raw: unknown, defaults: BatchDefaults, options: MappingOptions): MappedMessage {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return invalid('the event is not a JSON object');
  const message = raw as JsonObject;
  const typeValue = message['type'] ?? options.routeType;
  if (typeof typeValue !== 'string' || !(SEGMENT_TYPES as readonly string[]).includes(typeValue)) return invalid(`type must be one of ${SEGMENT_TYPES.join(', ')}; got ${JSON.stringify(typeValue) ?? 'none'}`);
  if (options.routeType !== undefined && typeValue !== options.routeType) return invalid(`type ${typeValue} sent to the ${options.routeType} route`);
  const type = typeValue as SegmentType;
  for (const field of ['context', 'properties', 'traits', 'integrations'] as const) {
    const value = message[field];
    if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) return invalid(`${field} must be an object`);
  }
  const ids = { anonymousId: idField(message, 'anonymousId'), userId: idField(message, 'userId'), previousId: idField(message, 'previousId'), messageId: idField(message, 'messageId') };
  for (const [name, id] of Object.entries(ids)) if (id === WRONG_TYPE) return invalid(`${name} must be a string or a number`);
  const anonymousId = usable(ids.anonymousId as string | undefined);
  const userId = usable(ids.userId as string | undefined);
  const previousId = usable(ids.previousId as string | undefined);
  const messageId = ids.messageId as string | undefined;
  const time = segmentEventTime({ timestamp: message['timestamp'], originalTimestamp: message['originalTimestamp'], sentAt: message['sentAt'] ?? defaults.sentAt }, options.receivedAtMs);
  const draft: SegmentDraft = {
    type,
    eventId: messageId === undefined || messageId === '' ? newEventId() : eventIdOf(messageId),
    anonymousId,
    userId,
    previousId: type === 'alias' ? previousId : undefined,
    sessionId: sessionIdOf(message['context']),
    event: { type, time: time.ok ? time.time : new Date(options.receivedAtMs).toISOString(), properties: objectOr(message['properties']), context: contextOf(message, defaults) },
  };
  const problem = problemOf(message, type, draft, options);
  if (problem !== undefined) return { ok: false, ...problem, draft };
  if (!time.ok) return { ok: false, code: 'SEGMENT_EVENT_INVALID', reason: time.reason, draft };
  return { ok: true, draft };
}

/** What makes a well-shaped message untrackable: its size, a missing name or id. */
function problemOf(message: JsonObject, type: SegmentType, draft: SegmentDraft, options: MappingOptions): Omit<SegmentProblem, 'draft'> | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(message));
  if (bytes > options.maxEventBytes) return { code: 'SEGMENT_EVENT_TOO_LARGE', reason: `the event is ${String(bytes)} bytes; the limit is ${String(options.maxEventBytes)} (SEGMENT_MAX_EVENT_SIZE)` };
  if (type === 'track' && (typeof message['event'] !== 'string' || message['event'] === '')) return { code: 'SEGMENT_EVENT_INVALID', reason: 'a track call needs "event", a non-empty string' };
  if (type === 'group' && (message['groupId'] === undefined || message['groupId'] === null || message['groupId'] === '')) return { code: 'SEGMENT_EVENT_INVALID', reason: 'a group call needs "groupId"' };
  if (draft.userId === undefined && draft.anonymousId === undefined) return { code: 'SEGMENT_EVENT_INVALID', reason: 'the event needs a usable "userId" or "anonymousId" (blank ids such as null, "", "0", "anonymous" do not count)' };
  return undefined;
}

const WRONG_TYPE = Symbol('wrong type');

/** An id field as a string (numbers as their decimal text); absent for null or missing. */
function idField(message: JsonObject, name: string): string | undefined | typeof WRONG_TYPE {
  const value = message[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return WRONG_TYPE;
}

/** The id, unless it is blank (`BLANK_IDS`, case and surrounding spaces ignored). */
export function usable(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  return BLANK_IDS.has(id.trim().toLowerCase()) ? undefined : id;
}

/** The Sluice event id of a `messageId`: itself when it is a valid Sluice id, else `m-<sha-256 hex>` (66 characters). */
export function eventIdOf(messageId: string): string {
  if (messageId.length <= MAX_ID_LENGTH && SLUICE_ID.test(messageId)) return messageId;
  return `m-${createHash('sha256').update(messageId).digest('hex')}`;
}

function sessionIdOf(context: unknown): string | undefined {
  if (typeof context !== 'object' || context === null) return undefined;
  const value = (context as JsonObject)['sessionId'];
  const id = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  return typeof id === 'string' && id.length <= MAX_ID_LENGTH && SLUICE_ID.test(id) ? id : undefined;
}

/** The stored context: the batch's, the message's over it, and `segment` holding the message's other fields. */
function contextOf(message: JsonObject, defaults: BatchDefaults): JsonObject {
  const own = objectOr(message['context']);
  const context: JsonObject = defaults.context === undefined ? { ...own } : { ...defaults.context, ...own };
  const segment: JsonObject = {};
  for (const [key, value] of Object.entries(message)) if (key !== 'context' && key !== 'properties' && key !== 'writeKey') segment[key] = value;
  if (segment['integrations'] === undefined && defaults.integrations !== undefined) segment['integrations'] = defaults.integrations;
  if (context['segment'] !== undefined) segment['contextSegment'] = context['segment'];
  context['segment'] = segment;
  return context;
}

function objectOr(value: unknown): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}

function invalid(reason: string): MappedMessage {
  return { ok: false, code: 'SEGMENT_EVENT_INVALID', reason };
}
