import type { FastifyInstance } from 'fastify';
import { SluiceError } from '@sluice/core';
import { MAX_ALLOWED_ORIGINS, MAX_SOURCE_NAME_LENGTH, MAX_SOURCE_RATE_LIMIT, assertValidSource, sourceIdSchema, type ConfigStore, type EventSourcePatch, type NewEventSource } from '@sluice/config-store';

// The schemas check shapes; the rules a source's id and origins follow are the config store's
// (assertValidSource), the same ones `sluice sources` applies.
const origins = { type: 'array', items: { type: 'string' } } as const;
const name = { type: 'string', minLength: 1, maxLength: MAX_SOURCE_NAME_LENGTH } as const;
/** Events per second, or null for the TRACK_RATE_LIMIT default. */
const rateLimit = { type: ['integer', 'null'], minimum: 1, maximum: MAX_SOURCE_RATE_LIMIT } as const;
const allowUnknownEventTypes = { type: 'boolean' } as const;
/** Ids in URLs follow the source id rule too, as the event routes' ids do. */
const idParam = { type: 'object', required: ['id'], properties: { id: sourceIdSchema } } as const;
const newSource = {
  type: 'object',
  required: ['id', 'name'],
  additionalProperties: false,
  properties: { id: { type: 'string' }, name, enabled: { type: 'boolean' }, allowedOrigins: { ...origins, maxItems: MAX_ALLOWED_ORIGINS }, rateLimit, allowUnknownEventTypes },
} as const;
const patch = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { name, enabled: { type: 'boolean' }, allowedOrigins: { ...origins, maxItems: MAX_ALLOWED_ORIGINS }, rateLimit, allowUnknownEventTypes },
} as const;

/** Admin API for event sources. Changes reach the tracking path of this replica at once, of every other within SOURCE_CACHE_TTL. */
/** `onChange`: after a change, so that the tracking path of this replica sees it at once. */
export function sourceRoutes(deps: { configStore: ConfigStore; onChange: () => Promise<void> }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/v1/sources', async () => ({ sources: await deps.configStore.listSources() }));

    app.post<{ Body: NewEventSource }>('/v1/sources', { schema: { body: newSource } }, async (request, reply) => {
      assertValidSource(request.body);
      const created = await deps.configStore.createSource(request.body);
      await deps.onChange();
      return reply.code(201).send(created);
    });

    app.get<{ Params: { id: string } }>('/v1/sources/:id', { schema: { params: idParam } }, async (request) => {
      const source = await deps.configStore.getSource(request.params.id);
      if (source === undefined) throw new SluiceError('NOT_FOUND', `no source ${request.params.id}`);
      return source;
    });

    app.patch<{ Params: { id: string }; Body: EventSourcePatch }>('/v1/sources/:id', { schema: { params: idParam, body: patch } }, async (request) => {
      assertValidSource(request.body);
      const source = await deps.configStore.updateSource(request.params.id, request.body);
      if (source === undefined) throw new SluiceError('NOT_FOUND', `no source ${request.params.id}`);
      await deps.onChange();
      return source;
    });

    app.delete<{ Params: { id: string } }>('/v1/sources/:id', { schema: { params: idParam } }, async (request, reply) => {
      if (!(await deps.configStore.deleteSource(request.params.id))) throw new SluiceError('NOT_FOUND', `no source ${request.params.id}`);
      await deps.onChange();
      return reply.code(204).send();
    });
  };
}
