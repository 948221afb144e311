import type { FastifyInstance } from 'fastify';
import { SluiceError } from '@sluice/core';
import type { EventStore } from '@sluice/store';

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 }, cursor: { type: 'string', maxLength: 1024 } },
} as const;

/** The operator read API: a profile and its events (newest first, paged). Admin token required. */
export function readRoutes(deps: { store: EventStore }) {
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

    app.get<{ Params: { id: string } }>('/v1/events/:id', { schema: { params: idParam } }, async (request) => {
      const event = await deps.store.getEvent(request.params.id);
      if (event === undefined) throw new SluiceError('NOT_FOUND', `no event ${request.params.id}`);
      return event;
    });
  };
}
