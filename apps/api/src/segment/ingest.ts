import { SluiceError, anonymousProfileId, encodeReceived, formatEventTime, idString, userProfileId, withTimeout, type ErrorCode, type IncomingEvent, type RequestMetadata, type TrackPayload } from '@sluice/core';
import { deadLetterOf, type EventBus, type OutgoingMessage } from '@sluice/bus';
import type { Metrics } from '@sluice/observability';
import type { SourceRateLimits } from '../rate-limits.ts';
import type { RequestIdentity, SegmentIdentity } from './identity.ts';
import { mapSegmentMessage, type BatchDefaults, type SegmentDraft, type SegmentType } from './mapping.ts';

export interface IngestDeps {
  readonly bus: EventBus;
  readonly identity: SegmentIdentity;
  /** Per-source events per second, shared with /track. */
  readonly limits: SourceRateLimits;
  readonly metrics: Metrics;
  readonly publishTimeoutMs: number;
  /** SEGMENT_MAX_EVENT_SIZE, bytes. */
  readonly maxEventBytes: number;
}

/** One Segment-compatible request, its source authorised. */
export interface SegmentRequest {
  readonly sourceId: string;
  /** The source's own rate limit (events/s), null for TRACK_RATE_LIMIT. */
  readonly rateLimit: number | null;
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
  const mapped = request.messages.map((message) => mapSegmentMessage(message, request.defaults, { receivedAtMs, maxEventBytes: deps.maxEventBytes, ...(request.routeType === undefined ? {} : { routeType: request.routeType }) }));
  await deps.limits.admit({ id: request.sourceId, rateLimit: request.rateLimit }, mapped.filter((outcome) => outcome.ok).length);

  const identity = deps.identity.forRequest(request.sourceId);
  const groups = new Map<string, { facts: { profileId: string; sessionId: string }; events: IncomingEvent[]; ids: string[] }>();
  const letters: OutgoingMessage[] = [];
  const deadLettered: DeadLetteredEvent[] = [];
  for (const [index, outcome] of mapped.entries()) {
    const draft = outcome.draft;
    if (outcome.ok) {
      const profileId = await identity.profileOf(outcome.draft);
      const sessionId = sessionOf(outcome.draft, request.sourceId);
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
    const payload: TrackPayload = { source: { id: request.sourceId }, events: group.events };
    const facts = { ...group.facts, receivedAt, metadata: request.metadata, ids: group.ids };
    return { key: group.facts.profileId, payload: Buffer.from(encodeReceived(facts, JSON.stringify(payload))) };
  });
  await Promise.all([publishWithin(deps, 'events', messages), publishWithin(deps, 'dead-letters', letters)]);
  const accepted = messages.length === 0 ? 0 : [...groups.values()].reduce((sum, group) => sum + group.events.length, 0);
  deps.metrics.eventsAccepted.inc(accepted);
  for (const letter of deadLettered) deps.metrics.eventsDeadLettered.inc({ code: letter.code, kind: 'event' });
  return { accepted, deadLettered };
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
  const payload: TrackPayload = { source: { id: request.sourceId }, events: [draft.event] };
  const message = encodeReceived({ profileId, sessionId: sessionOf(draft, request.sourceId), receivedAt, metadata: request.metadata, ids: [draft.eventId] }, JSON.stringify(payload));
  return deadLetterOf({ key: profileId, payload: Buffer.from(message) }, { code, reason }, request.route, 1);
}

/** The dead letter of an event that could not be mapped: the event as sent (a replay keeps it aside: the worker cannot read it). */
function asSentLetter(request: SegmentRequest, message: unknown, code: ErrorCode, reason: string): OutgoingMessage {
  return deadLetterOf({ key: request.sourceId, payload: Buffer.from(JSON.stringify(message) ?? 'null') }, { code, reason }, request.route, 1);
}

/** Publishes and waits for the bus acknowledgement, at most the publish timeout; else BUS_UNAVAILABLE. */
async function publishWithin(deps: IngestDeps, output: 'events' | 'dead-letters', messages: readonly OutgoingMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const timeoutMs = deps.publishTimeoutMs;
  try {
    await withTimeout(timeoutMs, () => deps.bus.publish(output, messages), () => new SluiceError('BUS_UNAVAILABLE', `the bus did not acknowledge within ${String(timeoutMs)} ms`));
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('BUS_UNAVAILABLE', `the bus could not accept the ${output}`, { cause: error });
  }
}
