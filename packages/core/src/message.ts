import { Ajv, type ValidateFunction } from 'ajv';
import type { RequestMetadata, TrackPayload, TrackedEvent } from './event.ts';
import { normaliseTrack } from './normalise.ts';
import { eventTime, idString, trackPayloadSchema } from './schemas.ts';
import { EVENT_TIME_FORMAT, isEventTime } from './time.ts';

/**
 * What the API decided about one request, beside its body: who sent it, when it arrived,
 * and the id of each event (the client's, else a server UUIDv7). With the body as received,
 * this determines the tracked events (`normaliseTrack`).
 */
export interface RequestFacts {
  profileId: string;
  sessionId: string;
  /** ISO-8601 UTC. */
  receivedAt: string;
  metadata: RequestMetadata;
  ids: string[];
}

/** Longest `X-Timestamp` header kept in an event's metadata, in characters (the API refuses a longer one). */
export const MAX_CLIENT_TIMESTAMP_LENGTH = 64;

/** Version of the events-topic message format; a message of any other version is refused at decode. */
export const MESSAGE_VERSION = 1;

/**
 * A message on the events topic (keyed by profile id), one explicit versioned envelope that
 * the API and the dead-letter replay write and the worker reads, validated whole at decode:
 * - `received`: the validated `/track` body as the client sent it, spliced in unchanged,
 *   beside the API's decisions. The API never re-serialises the events (that was a third of
 *   its CPU on 20-event batches); the worker normalises them.
 * - `events`: tracked events written out in full (what a dead-letter replay publishes).
 * - `batch`: several `received` or `events` envelopes, spliced in unchanged, that a bus
 *   grouped into one message (PULSAR_GROUP_*); its events are theirs, in order. A batch
 *   holds no batch.
 */
export type EventsMessage =
  | { readonly v: typeof MESSAGE_VERSION; readonly kind: 'received'; readonly request: RequestFacts; readonly payload: TrackPayload }
  | { readonly v: typeof MESSAGE_VERSION; readonly kind: 'events'; readonly events: readonly TrackedEvent[] }
  | { readonly v: typeof MESSAGE_VERSION; readonly kind: 'batch'; readonly messages: readonly Exclude<EventsMessage, { kind: 'batch' }>[] };

/** The outcome of decoding one bus message: its events, or why it can never be stored. */
export type DecodedMessage = { readonly ok: true; readonly events: TrackedEvent[] } | { readonly ok: false; readonly reason: string };

/**
 * The message for one request: `payloadJson` must be the text of a payload that parsed and
 * passed the `/track` schema; it is spliced in as it is (no escaping, no re-serialising).
 */
export function encodeReceived(facts: RequestFacts, payloadJson: string): string {
  return `{"v":${MESSAGE_VERSION},"kind":"received","request":${JSON.stringify(facts)},"payload":${payloadJson}}`;
}

/** The message that carries tracked events in full (a dead-letter replay). */
export function encodeEvents(events: readonly TrackedEvent[]): string {
  return JSON.stringify({ v: MESSAGE_VERSION, kind: 'events', events } satisfies EventsMessage);
}

const BATCH_HEAD = Buffer.from(`{"v":${MESSAGE_VERSION},"kind":"batch","messages":[`);
const COMMA = Buffer.from(',');
const BATCH_TAIL = Buffer.from(']}');

/**
 * One `batch` message holding `parts`, each the bytes of a `received` or `events` message
 * (as `encodeReceived` / `encodeEvents` wrote them), spliced in unchanged: no parsing, no
 * escaping. The caller vouches for the parts; the worker validates each at decode.
 */
export function encodeBatch(parts: readonly Uint8Array[]): Buffer {
  const chunks: Uint8Array[] = [BATCH_HEAD];
  parts.forEach((part, index) => {
    if (index > 0) chunks.push(COMMA);
    chunks.push(part);
  });
  chunks.push(BATCH_TAIL);
  return Buffer.concat(chunks);
}

/** A time as the normaliser writes it (`formatEventTime`): UTC, milliseconds. */
const storedTime = { ...eventTime, pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' } as const;

const metadataSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { ip: { type: 'string', maxLength: 256 }, userAgent: { type: 'string' }, origin: { type: 'string' }, clientTimestamp: { type: 'string', maxLength: MAX_CLIENT_TIMESTAMP_LENGTH } },
} as const;

const receivedSchema = {
  type: 'object',
  required: ['v', 'kind', 'request', 'payload'],
  additionalProperties: false,
  properties: {
    v: { const: MESSAGE_VERSION },
    kind: { const: 'received' },
    request: {
      type: 'object',
      required: ['profileId', 'sessionId', 'receivedAt', 'metadata', 'ids'],
      additionalProperties: false,
      properties: { profileId: idString, sessionId: idString, receivedAt: storedTime, metadata: metadataSchema, ids: { type: 'array', items: idString } },
    },
    payload: trackPayloadSchema({}),
  },
} as const;

const trackedEventSchema = {
  type: 'object',
  required: ['id', 'type', 'sourceId', 'sessionId', 'profileId', 'time', 'receivedAt', 'properties', 'context', 'tags', 'metadata'],
  additionalProperties: false,
  properties: {
    id: idString,
    type: { type: 'string', minLength: 1, maxLength: 128 },
    sourceId: idString,
    sessionId: idString,
    profileId: idString,
    time: storedTime,
    receivedAt: storedTime,
    properties: { type: 'object' },
    context: { type: 'object' },
    tags: { type: 'array', items: { type: 'string' } },
    metadata: metadataSchema,
    times: { type: 'object', additionalProperties: false, properties: { create: storedTime, insert: storedTime, update: storedTime } },
    device: { type: 'object' },
    options: { type: 'object' },
  },
} as const;

const eventsSchema = {
  type: 'object',
  required: ['v', 'kind', 'events'],
  additionalProperties: false,
  properties: { v: { const: MESSAGE_VERSION }, kind: { const: 'events' }, events: { type: 'array', items: trackedEventSchema } },
} as const;

/** The batch envelope alone; each of its messages is validated by its own kind's schema. */
const batchSchema = {
  type: 'object',
  required: ['v', 'kind', 'messages'],
  additionalProperties: false,
  properties: { v: { const: MESSAGE_VERSION }, kind: { const: 'batch' }, messages: { type: 'array', minItems: 1, items: { type: 'object' } } },
} as const;

interface Validators {
  readonly received: ValidateFunction;
  readonly events: ValidateFunction;
  readonly batch: ValidateFunction;
}

let validators: Validators | undefined;

/** The envelope validators, compiled once per process on first use. */
function messageValidators(): Validators {
  if (validators === undefined) {
    const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false });
    ajv.addFormat(EVENT_TIME_FORMAT, isEventTime);
    validators = { received: ajv.compile(receivedSchema), events: ajv.compile(eventsSchema), batch: ajv.compile(batchSchema) };
  }
  return validators;
}

/**
 * The tracked events of one events-topic message, or why it can never be stored: not JSON,
 * not version 1, or not exactly one of the three envelopes (every field checked; every
 * message of a batch, and one invalid message makes the whole batch invalid). Never
 * throws. Nesting needs no bound here: JSON.parse does not recurse, the validator does not
 * descend into free-form `properties` and `context`, and the stores serialise each event on
 * its own, refusing (dead-lettering) one that nests too deep — which the API never accepts.
 */
export function decodeEventsMessage(bytes: Uint8Array | string): DecodedMessage {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `the message is not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const kind = kindOf(value);
  if (kind === 'batch') {
    const { batch } = messageValidators();
    if (!batch(value)) return { ok: false, reason: `not a version ${MESSAGE_VERSION} batch message: ${describe(batch)}` };
    const events: TrackedEvent[] = [];
    const messages = (value as { messages: unknown[] }).messages;
    for (const [index, message] of messages.entries()) {
      if (kindOf(message) === 'batch') return { ok: false, reason: `message ${String(index)} of the batch is a batch` };
      const decoded = decodeEnvelope(message);
      if (!decoded.ok) return { ok: false, reason: `message ${String(index)} of the batch: ${decoded.reason}` };
      for (const event of decoded.events) events.push(event);
    }
    return { ok: true, events };
  }
  return decodeEnvelope(value);
}

function kindOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
}

/** The events of one parsed `received` or `events` envelope, or why it is not one. */
function decodeEnvelope(value: unknown): DecodedMessage {
  const kind = kindOf(value);
  const { received, events } = messageValidators();
  if (kind === 'events') {
    if (!events(value)) return { ok: false, reason: `not a version ${MESSAGE_VERSION} events message: ${describe(events)}` };
    return { ok: true, events: (value as { events: TrackedEvent[] }).events };
  }
  if (kind === 'received') {
    if (!received(value)) return { ok: false, reason: `not a version ${MESSAGE_VERSION} received message: ${describe(received)}` };
    const { request, payload } = value as { request: RequestFacts; payload: TrackPayload };
    if (request.ids.length !== payload.events.length) return { ok: false, reason: `${request.ids.length} ids for ${payload.events.length} events` };
    return { ok: true, events: normaliseTrack(payload, request) };
  }
  return { ok: false, reason: `not a version ${MESSAGE_VERSION} events-topic message (kind ${JSON.stringify(kind) ?? 'missing'})` };
}

function describe(validate: ValidateFunction): string {
  const issue = validate.errors?.[0];
  return issue === undefined ? 'invalid' : `${issue.instancePath === '' ? '/' : issue.instancePath} ${issue.message ?? issue.keyword}`;
}
