import { SluiceError, encodeReceived, withTimeout, type ErrorCode, type ErrorDetail, type RequestMetadata, type TrackPayload } from '@sluice/core';
import { compileEventSchema, type EventPropertiesCheck, type EventSource, type EventType } from '@sluice/config-store';
import { deadLetterOf, type EventBus } from '@sluice/bus';

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
 * Validation of events against their event types on the tracking path. A type's schema is
 * compiled once per version and cached here (a schema change arrives as a new version
 * through the configuration cache, on every replica); types without a schema, or disabled,
 * are not checked. What is checked is what the store keeps: the payload's `properties`
 * merged with the event's own.
 */
export class EventValidator {
  private readonly compiled = new Map<string, { readonly version: number; readonly check: EventPropertiesCheck }>();

  /**
   * Checks every event. Throws EVENT_TYPE_UNKNOWN (the source refuses unknown types) or
   * EVENT_INVALID (an event fails a type whose policy is `reject`), naming the event's index
   * and the JSON pointer; returns the events to dead-letter (policy `dead-letter`).
   */
  check(source: EventSource, payload: TrackPayload, eventTypes: ReadonlyMap<string, EventType>): CheckedEvents {
    if (eventTypes.size === 0 && source.allowUnknownEventTypes) return ALL_VALID;
    let invalid: InvalidEvent[] | undefined;
    const rejected: ErrorDetail[] = [];
    payload.events.forEach((event, index) => {
      const eventType = eventTypes.get(event.type);
      if (eventType === undefined) {
        if (!source.allowUnknownEventTypes) rejected.push({ path: `/events/${String(index)}/type`, message: `event type ${JSON.stringify(event.type)} is not configured and source "${source.id}" refuses unknown types` });
        return;
      }
      if (!eventType.enabled || eventType.schema === null) return;
      const properties = payload.properties === undefined ? (event.properties ?? {}) : { ...payload.properties, ...event.properties };
      const violation = this.compiledCheck(eventType)(properties);
      if (violation === undefined) return;
      const found = { index, type: event.type, pointer: `/events/${String(index)}/properties${violation.pointer}`, message: violation.message };
      if (eventType.onInvalid === 'reject') rejected.push({ path: found.pointer, message: `${violation.message} (schema of event type ${JSON.stringify(event.type)}, version ${String(eventType.version)})` });
      else (invalid ??= []).push(found);
    });
    if (rejected.length > 0) {
      const code: ErrorCode = rejected.some((detail) => detail.path.endsWith('/type')) ? 'EVENT_TYPE_UNKNOWN' : 'EVENT_INVALID';
      throw new SluiceError(code, rejected.map((detail) => `${detail.path}: ${detail.message}`).join('; '), { details: rejected });
    }
    return invalid === undefined ? ALL_VALID : { invalid };
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
  if (checked.invalid.length === 0) return;
  const letters = checked.invalid.map((invalid) => {
    const event = payload.events[invalid.index];
    const message = encodeReceived({ ...decisions, ids: [decisions.ids[invalid.index] ?? ''] }, JSON.stringify({ ...payload, events: [event] }));
    const reason = `${invalid.pointer}: ${invalid.message} (event type ${JSON.stringify(invalid.type)})`;
    return deadLetterOf({ key: decisions.profileId, payload: Buffer.from(message) }, { code: 'EVENT_INVALID', reason }, '/track', 1);
  });
  try {
    await withTimeout(timeoutMs, () => bus.publish('dead-letters', letters), () => new SluiceError('BUS_UNAVAILABLE', `the bus did not acknowledge the dead letters within ${String(timeoutMs)} ms`));
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('BUS_UNAVAILABLE', 'the bus could not accept the dead letters', { cause: error });
  }
}

/** The part of the /track answer that names dead-lettered events (absent when there are none). */
export function deadLetteredOf(checked: CheckedEvents, ids: readonly string[]): { deadLettered?: { index: number; id: string; code: 'EVENT_INVALID'; path: string; message: string }[] } {
  if (checked.invalid.length === 0) return {};
  return { deadLettered: checked.invalid.map((invalid) => ({ index: invalid.index, id: ids[invalid.index] ?? '', code: 'EVENT_INVALID', path: invalid.pointer, message: invalid.message })) };
}
