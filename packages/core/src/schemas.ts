import { EVENT_TIME_FORMAT } from './time.ts';

/** Limits that shape the `/track` payload schema; they come from configuration. */
export interface TrackLimits {
  /** Most events one request may carry; absent: no limit (the worker's decoder, which checks shape, not policy). */
  maxEvents?: number;
}

/** Longest id (event, source, session, profile) anywhere in Sluice. */
export const MAX_ID_LENGTH = 128;

const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@-]*$';
export const idString = { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH, pattern: ID_PATTERN } as const;
/** An event time: RFC 3339, years 0001–9999 (`parseEventTime`). */
export const eventTime = { type: 'string', format: EVENT_TIME_FORMAT } as const;
const freeObject = { type: 'object' } as const;

/**
 * `events[].time`: an event time (a string), or Tracardi's time object `{ create?, insert?,
 * update? }` of event times and nothing else (`eventTimeOf` reads it). One keyword set for
 * both, not `anyOf`, so that a bad value is named precisely (`/events/0/time/create: must
 * match format "sluice-time"`) rather than as a failed alternative.
 */
export const eventTimeOrObject = {
  type: ['string', 'object'],
  format: EVENT_TIME_FORMAT,
  additionalProperties: false,
  properties: { create: eventTime, insert: eventTime, update: eventTime },
} as const;

/**
 * JSON Schema of the `/track` body, compiled by the API (requests) and by the worker (bus
 * messages) alike; validators must register the `sluice-time` format (`isEventTime`).
 * Free-form objects (`properties`, `context`, `options`, `device`) are bounded by nesting depth before parsing
 * and by size after it, not by shape here.
 */
export function trackPayloadSchema(limits: TrackLimits): Record<string, unknown> {
  return {
    $id: 'sluice/track-payload',
    type: 'object',
    required: ['source', 'events'],
    additionalProperties: true,
    properties: {
      source: { type: 'object', required: ['id'], properties: { id: idString } },
      session: { type: 'object', properties: { id: idString } },
      profile: { type: ['object', 'null'], properties: { id: idString } },
      context: freeObject,
      properties: freeObject,
      options: freeObject,
      device: freeObject,
      events: {
        type: 'array',
        minItems: 1,
        ...(limits.maxEvents === undefined ? {} : { maxItems: limits.maxEvents }),
        items: {
          type: 'object',
          required: ['type'],
          properties: {
            id: idString,
            type: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$' },
            time: eventTimeOrObject,
            properties: freeObject,
            context: freeObject,
            options: freeObject,
            tags: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 64 } },
          },
        },
      },
    },
  };
}
