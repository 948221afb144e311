import { anonymousProfileId, encodeReceived, formatEventTime, idString, userProfileId, type ErrorCode, type IncomingEvent, type RequestMetadata, type TrackPayload } from '@sluice/core';
import { deadLetterOf, type EventBus, type OutgoingMessage } from '@sluice/bus';
import type { EventSource, EventType } from '@sluice/config-store';
import type { Metrics } from '@sluice/observability';
import { explainVerdict, publishAcknowledged, receivedDeadLetter, type EventValidator } from '../event-validation.ts';
import type { SourceRateLimits } from '../rate-limits.ts';
import type { RequestIdentity, SegmentIdentity } from './identity.ts';
import { mapSegmentMessage, type BatchDefaults, type MappedMessage, type SegmentDraft, type SegmentType } from './mapping.ts';

export interface IngestDeps {
  readonly bus: EventBus;
  readonly identity: SegmentIdentity;
  /** The event types' schemas, as on /track. */
  readonly validator: EventValidator;
  /** Per-source events per second, shared with /track. */
  readonly limits: SourceRateLimits;
  readonly metrics: Metrics;
  readonly publishTimeoutMs: number;
  /** SEGMENT_MAX_EVENT_SIZE, bytes. */
  readonly maxEventBytes: number;
}

/** One Segment-compatible request, its source authorised. */
export interface SegmentRequest {
  /** The authorised source: its id, rate limit and unknown-type policy. */
  readonly source: EventSource;
  /** The event types as served now. */
  readonly eventTypes: ReadonlyMap<string, EventType>;
  readonly messages: readonly unknown[];
  readonly defaults: BatchDefaults;
  /** The call type of a single-call route; absent for batches. */
  readonly routeType?: SegmentType;
  readonly metadata: RequestMetadata;
  /** Where dead letters say they came from (`/v1/batch` …). */
  readonly route: string;
}

/** An event of the request that was dead-lettered instead of stored, by its index in the request. */
export interface DeadLetteredEvent {
  readonly index: number;
  readonly messageId?: string;
  readonly code: ErrorCode;
  readonly reason: string;
}

export interface SegmentOutcome {
  /** Events on the bus, to be stored. */
  readonly accepted: number;
  readonly deadLettered: readonly DeadLetteredEvent[];
}

const SLUICE_ID = new RegExp(idString.pattern);

/**
 * Takes a Segment request's events: maps each (`mapSegmentMessage`), decides its profile in
 * order (`SegmentIdentity`), and publishes the valid ones as `received` messages — one per
 * profile and session, in the order of their first event, each a `/track`-shaped payload with
 * the ids decided here, so the worker stores them as it stores /track's — and each invalid one
 * as a dead letter (code and reason; a `received` message of that one event where it could be
 * mapped, so `sluice dlq replay` stores it, else the event as sent). Resolves once the bus has
 * acknowledged all of them: the 200 means every event is durable, stored or dead-lettered.
 * Throws RATE_LIMITED (nothing taken), BUS_UNAVAILABLE, STORE_UNAVAILABLE (a merge could not
 * be recorded): retryable, and a retry stores each event once (ids from message ids).
 */
export async function ingestSegment(deps: IngestDeps, request: SegmentRequest): Promise<SegmentOutcome> {
  const receivedAtMs = Date.now();
  const receivedAt = formatEventTime(receivedAtMs);
  const sourceId = request.source.id;
  const mapped = request.messages.map((message) => mapSegmentMessage(message, request.defaults, { receivedAtMs, maxEventBytes: deps.maxEventBytes, ...(request.routeType === undefined ? {} : { routeType: request.routeType }) }));
  await deps.limits.admit(request.source, mapped.filter((outcome) => outcome.ok).length);
  judgeByEventTypes(deps.validator, request, mapped);

  const identity = deps.identity.forRequest(sourceId);
  const groups = new Map<string, { facts: { profileId: string; sessionId: string }; events: IncomingEvent[]; ids: string[] }>();
  const letters: OutgoingMessage[] = [];
  const deadLettered: DeadLetteredEvent[] = [];
  for (const [index, outcome] of mapped.entries()) {
    const draft = outcome.draft;
    if (outcome.ok) {
      const profileId = await identity.profileOf(outcome.draft);
      const sessionId = sessionOf(outcome.draft, sourceId);
      const key = `${profileId} ${sessionId}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { facts: { profileId, sessionId }, events: [], ids: [] }));
      group.events.push(outcome.draft.event);
      group.ids.push(outcome.draft.eventId);
      continue;
    }
    const reason = `${request.route} event ${String(index)}: ${outcome.reason}`;
    const letter = draft !== undefined && (draft.userId !== undefined || draft.anonymousId !== undefined) ? await replayableLetter(identity, request, draft, receivedAt, outcome.code, reason) : asSentLetter(request, request.messages[index], outcome.code, reason);
    letters.push(letter);
    deadLettered.push({ index, ...(draft === undefined ? {} : { messageId: draft.eventId }), code: outcome.code, reason: outcome.reason });
  }

  const messages = [...groups.values()].map((group): OutgoingMessage => {
    const payload: TrackPayload = { source: { id: sourceId }, events: group.events };
    const facts = { ...group.facts, receivedAt, metadata: request.metadata, ids: group.ids };
    return { key: group.facts.profileId, payload: Buffer.from(encodeReceived(facts, JSON.stringify(payload))) };
  });
  await Promise.all([publishAcknowledged(deps.bus, 'events', messages, deps.publishTimeoutMs), publishAcknowledged(deps.bus, 'dead-letters', letters, deps.publishTimeoutMs)]);
  const accepted = messages.length === 0 ? 0 : [...groups.values()].reduce((sum, group) => sum + group.events.length, 0);
  deps.metrics.eventsAccepted.inc(accepted);
  for (const letter of deadLettered) deps.metrics.eventsDeadLettered.inc({ code: letter.code, kind: 'event' });
  return { accepted, deadLettered };
}

/**
 * The event types' verdicts (EventValidator, as on /track) on the events that mapped: each
 * one turns its event into a problem to dead-letter, with the verdict's code and the JSON
 * pointer in the request — whatever the policy, since SDKs drop a whole batch on a 4xx
 * (`reject` refuses a /track request; here it dead-letters the event, as `dead-letter` does).
 * What a type checks is what the store keeps: the call type (`track`, `page` …) and `properties`.
 */
function judgeByEventTypes(validator: EventValidator, request: SegmentRequest, mapped: MappedMessage[]): void {
  const positions = mapped.flatMap((outcome, index) => (outcome.ok ? [index] : []));
  const events = positions.map((index) => (mapped[index] as Extract<MappedMessage, { ok: true }>).draft.event);
  for (const verdict of validator.verdicts(request.source, events, request.eventTypes)) {
    const index = positions[verdict.index]!;
    const draft = (mapped[index] as Extract<MappedMessage, { ok: true }>).draft;
    const pointer = request.routeType === undefined ? `/batch/${String(index)}${verdict.pointer}` : verdict.pointer;
    mapped[index] = { ok: false, code: verdict.code, reason: `${pointer}: ${explainVerdict(verdict)}`, draft };
  }
}

/**
 * The session of an event: Segment's `context.sessionId` when it is a valid Sluice id; else
 * the `anonymousId` when it is one (a browser's visit), else the anonymous profile's derived
 * id; an event with only a `userId`, the user's derived profile id.
 */
function sessionOf(draft: SegmentDraft, sourceId: string): string {
  if (draft.sessionId !== undefined) return draft.sessionId;
  if (draft.anonymousId !== undefined) return draft.anonymousId.length <= 128 && SLUICE_ID.test(draft.anonymousId) ? draft.anonymousId : anonymousProfileId(sourceId, draft.anonymousId);
  return userProfileId(draft.userId ?? '');
}

/** The dead letter of an event that was mapped: a `received` message of it alone, on the profile it would have had (no merge made for it). */
async function replayableLetter(identity: RequestIdentity, request: SegmentRequest, draft: SegmentDraft, receivedAt: string, code: ErrorCode, reason: string): Promise<OutgoingMessage> {
  const profileId = await identity.profileWithoutMerges(draft);
  const decisions = { profileId, sessionId: sessionOf(draft, request.source.id), receivedAt, metadata: request.metadata, ids: [draft.eventId] };
  return receivedDeadLetter(decisions, { source: { id: request.source.id }, events: [draft.event] }, { code, reason }, request.route);
}

/** The dead letter of an event that could not be mapped: the event as sent (a replay keeps it aside: the worker cannot read it). */
function asSentLetter(request: SegmentRequest, message: unknown, code: ErrorCode, reason: string): OutgoingMessage {
  return deadLetterOf({ key: request.source.id, payload: Buffer.from(JSON.stringify(message) ?? 'null') }, { code, reason }, request.route, 1);
}
