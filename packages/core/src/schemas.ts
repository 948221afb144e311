/** Limits that shape the `/track` payload schema; they come from configuration. */
export interface TrackLimits {
  /** Most events one request may carry. */
  maxEvents: number;
}

const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@-]*$';
const idString = { type: 'string', minLength: 1, maxLength: 128, pattern: ID_PATTERN } as const;
const freeObject = { type: 'object' } as const;

/**
 * JSON Schema of the `/track` body. Free-form objects (`properties`, `context`) are
 * bounded by size after parsing, not by shape here.
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
      events: {
        type: 'array',
        minItems: 1,
        maxItems: limits.maxEvents,
        items: {
          type: 'object',
          required: ['type'],
          properties: {
            id: idString,
            type: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$' },
            time: { type: 'string', format: 'date-time' },
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
