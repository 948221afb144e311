import type { FastifyInstance } from 'fastify';
import { SluiceError, idString } from '@sluice/core';
import type { EventReader, ProfileMerges } from '@sluice/store';
import type { ProfileDirectory } from '../profile-directory.ts';
import { segmentIdsOf } from '../segment/profile-ids.ts';

/** Profile, source and event ids as `/track` and `POST /v1/sources` accept them (core's `idString`). */
const idParam = { type: 'object', required: ['id'], properties: { id: idString } } as const;
const mergeBody = { type: 'object', required: ['into'], additionalProperties: false, properties: { into: idString } } as const;
const eventParams = { type: 'object', required: ['sourceId', 'eventId'], properties: { sourceId: idString, eventId: idString } } as const;
const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 }, cursor: { type: 'string', maxLength: 1024 } },
} as const;

/**
 * The operator read API (and the profile merge): a profile and its events (newest first by receive time, paged), and
 * one event by its source and id (an event id is unique within its source only). Admin
 * token required.
 */
export function readRoutes(deps: { store: EventReader & ProfileMerges; directory: ProfileDirectory }) {
  return async (app: FastifyInstance): Promise<void> => {
    /**
     * A profile; a merged one says where it went (`mergedInto`, `mergedAt`), even if it never
     * had an event; and the Segment `anonymousIds` and `userIds` it is known by, its own and
     * those of the profiles merged into it (capped: segment/profile-ids.ts).
     */
    app.get<{ Params: { id: string } }>('/v1/profiles/:id', { schema: { params: idParam } }, async (request) => {
      const id = request.params.id;
      const [profile, merge, ids] = await Promise.all([deps.store.getProfile(id), deps.store.getMerge(id), segmentIdsOf(deps.store, id)]);
      if (profile === undefined && merge === undefined) throw new SluiceError('NOT_FOUND', `no profile ${id}`);
      return { ...(profile ?? { id }), ...(merge === undefined ? {} : { mergedInto: merge.into, mergedAt: merge.mergedAt }), ...ids };
    });

    /**
     * Merges the profile into another: from now on, requests naming it (or a session bound
     * to it) are tracked on the survivor. Its stored events stay where they are.
     */
    app.post<{ Params: { id: string }; Body: { into: string } }>('/v1/profiles/:id/merge', { schema: { params: idParam, body: mergeBody } }, async (request) => {
      const merge = await deps.directory.merge(request.params.id, request.body.into);
      return { from: merge.from, into: merge.into, mergedAt: merge.mergedAt };
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
