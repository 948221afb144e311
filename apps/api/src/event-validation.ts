import { SluiceError, encodeReceived, withTimeout, type ErrorCode, type ErrorDetail, type RequestMetadata, type TrackPayload } from '@sluice/core';
import { compileEventSchema, type EventPropertiesCheck, type EventSource, type EventType } from '@sluice/config-store';
import { deadLetterOf, type EventBus, type OutgoingMessage, type OutputName } from '@sluice/bus';

/** One event of a request that its type's schema refuses, bound for the dead letters. */
export interface InvalidEvent {
  readonly index: number;
  readonly type: string;
  /** JSON pointer of the failing field within the request (`/events/2/properties/price`). */
  readonly pointer: string;
  readonly message: string;
}

/** What the validation decided for a request whose events all may go on (none refused with `reject`). */
export interface CheckedEvents {
  /** Events dead-lettered instead of published (their type's policy is `dead-letter`); empty for most requests. */
  readonly invalid: readonly InvalidEvent[];
}

/** Nothing to dead-letter: the usual answer, shared. */
const ALL_VALID: CheckedEvents = { invalid: [] };

/**
 * What an event's type says of it, when it is not plainly valid: its type is not configured
 * and the source refuses unknown types (EVENT_TYPE_UNKNOWN, always `reject`), or its
 * properties fail the type's schema (EVENT_INVALID, the type's `onInvalid`).
 */
export interface EventVerdict {
  readonly index: number;
  readonly type: string;
  readonly code: 'EVENT_TYPE_UNKNOWN' | 'EVENT_INVALID';
  /** `reject`: /track refuses the request (422); `dead-letter`: the event alone is dead-lettered. */
  readonly onInvalid: 'reject' | 'dead-letter';
  /** JSON pointer within the event: `/type`, or `/properties` and the failing field. */
  readonly pointer: string;
  /** What is wrong, as the schema (or the source) says it. */
  readonly message: string;
  /** EVENT_INVALID: the version of the schema that said it. */
  readonly schemaVersion?: number;
}

/** A verdict's words for an operator: the message, and which schema said it (`… (schema of event type "x", version 3)`). */
export function explainVerdict(verdict: EventVerdict): string {
  return verdict.schemaVersion === undefined ? verdict.message : `${verdict.message} (schema of event type ${JSON.stringify(verdict.type)}, version ${String(verdict.schemaVersion)})`;
}

/** An event as its type judges it: the type's name and the properties the store keeps. */
export interface TypedEvent {
  readonly type: string;
  readonly properties?: Readonly<Record<string, unknown>>;
}

/**
 * Validation of events against their event types — the one per-event path of every
 * ingestion route (`/track`, the Segment-compatible routes). A type's schema is compiled
 * once per version and cached here (a schema change arrives as a new version through the
 * configuration cache, on every replica); types without a schema, or disabled, are not
 * checked. What is checked is what the store keeps: the properties the event is stored with.
 */
export class EventValidator {
  private readonly compiled = new Map<string, { readonly version: number; readonly check: EventPropertiesCheck }>();

  /**
   * The verdict on each event that is not plainly valid, in event order (empty for most
   * requests). `sharedProperties` are a request's properties under each event's own (/track's
   * payload `properties`). Each route decides what a verdict does: /track `check`s, the
   * Segment routes dead-letter every one (SDKs drop a whole batch on a 4xx).
   */
  verdicts(source: EventSource, events: readonly TypedEvent[], eventTypes: ReadonlyMap<string, EventType>, sharedProperties?: Readonly<Record<string, unknown>>): EventVerdict[] {
    if (eventTypes.size === 0 && source.allowUnknownEventTypes) return [];
    const verdicts: EventVerdict[] = [];
    events.forEach((event, index) => {
      const eventType = eventTypes.get(event.type);
      if (eventType === undefined) {
        if (!source.allowUnknownEventTypes) verdicts.push({ index, type: event.type, code: 'EVENT_TYPE_UNKNOWN', onInvalid: 'reject', pointer: '/type', message: `event type ${JSON.stringify(event.type)} is not configured and source "${source.id}" refuses unknown types` });
        return;
      }
      if (!eventType.enabled || eventType.schema === null) return;
      const properties = sharedProperties === undefined ? (event.properties ?? {}) : { ...sharedProperties, ...event.properties };
      const violation = this.compiledCheck(eventType)(properties);
      if (violation === undefined) return;
      verdicts.push({ index, type: event.type, code: 'EVENT_INVALID', onInvalid: eventType.onInvalid, pointer: `/properties${violation.pointer}`, message: violation.message, schemaVersion: eventType.version });
    });
    return verdicts;
  }

  /**
   * /track's rule: throws EVENT_TYPE_UNKNOWN (the source refuses unknown types) or
   * EVENT_INVALID (an event fails a type whose policy is `reject`), naming the event's index
   * and the JSON pointer; returns the events to dead-letter (policy `dead-letter`).
   */
  check(source: EventSource, payload: TrackPayload, eventTypes: ReadonlyMap<string, EventType>): CheckedEvents {
    const verdicts = this.verdicts(source, payload.events, eventTypes, payload.properties);
    if (verdicts.length === 0) return ALL_VALID;
    const pointerOf = (verdict: EventVerdict) => `/events/${String(verdict.index)}${verdict.pointer}`;
    const rejected: ErrorDetail[] = verdicts.filter((verdict) => verdict.onInvalid === 'reject').map((verdict) => ({ path: pointerOf(verdict), message: explainVerdict(verdict) }));
    if (rejected.length > 0) {
      const code: ErrorCode = verdicts.some((verdict) => verdict.code === 'EVENT_TYPE_UNKNOWN') ? 'EVENT_TYPE_UNKNOWN' : 'EVENT_INVALID';
      throw new SluiceError(code, rejected.map((detail) => `${detail.path}: ${detail.message}`).join('; '), { details: rejected });
    }
    return { invalid: verdicts.map((verdict) => ({ index: verdict.index, type: verdict.type, pointer: pointerOf(verdict), message: verdict.message })) };
  }

  private compiledCheck(eventType: EventType): EventPropertiesCheck {
    const cached = this.compiled.get(eventType.name);
    if (cached !== undefined && cached.version === eventType.version) return cached.check;
    // The admin API and the CLI only store schemas that compile (assertValidEventType).
    const check = compileEventSchema(eventType.schema ?? {});
    this.compiled.set(eventType.name, { version: eventType.version, check });
    return check;
  }
}

/** What was decided for the request (identity, ids, time), as the bus message carries it. */
export interface RequestDecisions {
  readonly profileId: string;
  readonly sessionId: string;
  readonly receivedAt: string;
  readonly ids: readonly string[];
  readonly metadata: RequestMetadata;
}

/**
 * The body to publish for the valid events: the request's own text when nothing is
 * dead-lettered (the usual case: nothing re-serialised), else the payload with the invalid
 * events left out, and their ids left out of `ids` alike.
 */
export function acceptedMessage(checked: CheckedEvents, payload: TrackPayload, rawBody: string, decisions: RequestDecisions): string | undefined {
  if (checked.invalid.length === 0) return encodeReceived({ ...decisions, ids: [...decisions.ids] }, rawBody);
  const dropped = new Set(checked.invalid.map((event) => event.index));
  const kept = payload.events.flatMap((event, index) => (dropped.has(index) ? [] : [{ event, id: decisions.ids[index] ?? '' }]));
  if (kept.length === 0) return undefined;
  return encodeReceived({ ...decisions, ids: kept.map((entry) => entry.id) }, JSON.stringify({ ...payload, events: kept.map((entry) => entry.event) }));
}

/**
 * Publishes one dead letter per invalid event on the bus's dead-letters output and waits
 * for the acknowledgements (at most `timeoutMs`, else BUS_UNAVAILABLE). Each is a v1
 * `message` dead letter built by the bus's own `deadLetterOf` (code EVENT_INVALID, the JSON
 * pointer and the schema's words in its reason, origin `/track`) holding the received-request message of that one event with its id and the
 * request's decisions, so that `sluice dlq replay` stores it as the request would have,
 * once its type's schema (or the event) is fixed. The replayed event goes straight to the
 * storage worker: it is not validated again.
 */
export async function publishDeadLetters(bus: EventBus, checked: CheckedEvents, payload: TrackPayload, decisions: RequestDecisions, timeoutMs: number): Promise<void> {
  const letters = checked.invalid.map((invalid) => {
    const reason = `${invalid.pointer}: ${invalid.message} (event type ${JSON.stringify(invalid.type)})`;
    return receivedDeadLetter({ ...decisions, ids: [decisions.ids[invalid.index] ?? ''] }, { ...payload, events: [payload.events[invalid.index]!] }, { code: 'EVENT_INVALID', reason }, '/track');
  });
  await publishAcknowledged(bus, 'dead-letters', letters, timeoutMs);
}

/**
 * The dead letter of events a route took but will not store (v1 `message`, built by the
 * bus's `deadLetterOf`): the received-request message of `payload` with its decisions, so
 * that `sluice dlq replay` stores the events as the request would have (the replayed events
 * go straight to the storage worker, not validated again). `origin`: the route (`/track`, `/v1/batch` …).
 */
export function receivedDeadLetter(decisions: RequestDecisions, payload: TrackPayload, failure: { readonly code: ErrorCode; readonly reason: string }, origin: string): OutgoingMessage {
  const message = encodeReceived({ ...decisions, ids: [...decisions.ids] }, JSON.stringify(payload));
  return deadLetterOf({ key: decisions.profileId, payload: Buffer.from(message) }, failure, origin, 1);
}

/**
 * Publishes `messages` on `output` and waits for the bus's acknowledgement, at most
 * `timeoutMs`: what every ingestion route's 200 waits for. Throws BUS_UNAVAILABLE when the
 * bus does not acknowledge in time or fails (a SluiceError of the bus passes as it is).
 * Nothing to publish: resolves at once.
 */
export async function publishAcknowledged(bus: EventBus, output: OutputName, messages: readonly OutgoingMessage[], timeoutMs: number): Promise<void> {
  if (messages.length === 0) return;
  const what = output === 'dead-letters' ? 'the dead letters' : 'the events';
  try {
    await withTimeout(timeoutMs, () => bus.publish(output, messages), () => new SluiceError('BUS_UNAVAILABLE', `the bus did not acknowledge ${what} within ${String(timeoutMs)} ms`));
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('BUS_UNAVAILABLE', `the bus could not accept ${what}`, { cause: error });
  }
}

/** The part of the /track answer that names dead-lettered events (absent when there are none). */
export function deadLetteredOf(checked: CheckedEvents, ids: readonly string[]): { deadLettered?: { index: number; id: string; code: 'EVENT_INVALID'; path: string; message: string }[] } {
  if (checked.invalid.length === 0) return {};
  return { deadLettered: checked.invalid.map((invalid) => ({ index: invalid.index, id: ids[invalid.index] ?? '', code: 'EVENT_INVALID', path: invalid.pointer, message: invalid.message })) };
}
