import type { RequestMetadata, TrackPayload, TrackedEvent } from './event.ts';
import { normaliseTrack } from './normalise.ts';

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

/**
 * A bus message on the events topic, keyed by profile id. Three shapes are read:
 * - `{ request, payload }`, what the API publishes: the validated `/track` body as the client
 *   sent it, spliced in unchanged, and the API's decisions. The API never re-serialises the
 *   events (that was a third of its CPU on 20-event batches); the worker normalises them.
 * - `{ events }`: tracked events written out in full (what a dead-letter replay publishes).
 * - `{ shared, events }`: fields every event shares once (written by builds before
 *   2026-11-22; still read so that messages already on a bus are not lost).
 */
export type EventBatchMessage = { request: RequestFacts; payload: TrackPayload } | { shared?: Partial<TrackedEvent>; events: Partial<TrackedEvent>[] };

/**
 * The message for one request: `payloadJson` must be the text of a payload that parsed and
 * passed the `/track` schema; it is spliced in as it is (no escaping, no re-serialising).
 */
export function encodeReceived(facts: RequestFacts, payloadJson: string): string {
  return `{"request":${JSON.stringify(facts)},"payload":${payloadJson}}`;
}

/** The tracked events of a bus message, or undefined when it is not an event batch (never throws). */
export function decodeBatch(value: unknown): TrackedEvent[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if ('request' in value) return decodeReceived(value);
  const { shared, events } = value as { shared?: unknown; events?: unknown };
  if (!Array.isArray(events)) return undefined;
  if (shared === undefined) return events as TrackedEvent[];
  if (typeof shared !== 'object' || shared === null) return undefined;
  return events.map((event) => ({ ...(shared as Partial<TrackedEvent>), ...(event as Partial<TrackedEvent>) }) as TrackedEvent);
}

function decodeReceived({ request, payload }: { request?: unknown; payload?: unknown }): TrackedEvent[] | undefined {
  if (typeof request !== 'object' || request === null || typeof payload !== 'object' || payload === null) return undefined;
  const facts = request as Partial<RequestFacts>;
  const body = payload as Partial<TrackPayload>;
  const valid =
    typeof facts.profileId === 'string' && typeof facts.sessionId === 'string' && typeof facts.receivedAt === 'string' && typeof facts.metadata === 'object' && facts.metadata !== null &&
    Array.isArray(facts.ids) && typeof body.source?.id === 'string' && Array.isArray(body.events) &&
    body.events.every((event) => typeof event === 'object' && event !== null);
  if (!valid) return undefined;
  try {
    return normaliseTrack(body as TrackPayload, facts as RequestFacts);
  } catch {
    return undefined; // not an id per event, or a time that is no date: not what the API publishes
  }
}
