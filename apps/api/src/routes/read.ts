import type { FastifyInstance } from 'fastify';
import { SluiceError, idString } from '@sluice/core';
import type { EventReader } from '@sluice/store';

/** Profile, source and event ids as `/track` and `POST /v1/sources` accept them (core's `idString`). */
const idParam = { type: 'object', required: ['id'], properties: { id: idString } } as const;
const eventParams = { type: 'object', required: ['sourceId', 'eventId'], properties: { sourceId: idString, eventId: idString } } as const;
const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 }, cursor: { type: 'string', maxLength: 1024 } },
} as const;

/**
 * The operator read API: a profile and its events (newest first by receive time, paged), and
 * one event by its source and id (an event id is unique within its source only). Admin
 * token required.
 */
export function readRoutes(deps: { store: EventReader }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { id: string } }>('/v1/profiles/:id', { schema: { params: idParam } }, async (request) => {
      const profile = await deps.store.getProfile(request.params.id);
      if (profile === undefined) throw new SluiceError('NOT_FOUND', `no profile ${request.params.id}`);
      return profile;
    });

    app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string } }>('/v1/profiles/:id/events', { schema: { params: idParam, querystring: pageQuery } }, async (request) => {
      const { limit, cursor } = request.query;
      return deps.store.queryEvents({ profileId: request.params.id, limit, ...(cursor === undefined ? {} : { cursor }) });
    });

    app.get<{ Params: { sourceId: string; eventId: string } }>('/v1/sources/:sourceId/events/:eventId', { schema: { params: eventParams } }, async (request) => {
      const { sourceId, eventId } = request.params;
      const event = await deps.store.getEvent(sourceId, eventId);
      if (event === undefined) throw new SluiceError('NOT_FOUND', `no event ${eventId} of source ${sourceId}`);
      return event;
    });
  };
}
