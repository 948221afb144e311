import type { FastifyInstance } from 'fastify';
import { SluiceError } from '@sluice/core';
import type { ConfigStore, EventSourcePatch, NewEventSource } from '@sluice/config-store';

const origins = { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^(\\*|https?://[^/\\s]+)$' } } as const;
const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
const newSource = {
  type: 'object',
  required: ['id', 'name'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$' }, name: { type: 'string', minLength: 1, maxLength: 256 }, enabled: { type: 'boolean' }, allowedOrigins: origins },
} as const;
const patch = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, enabled: { type: 'boolean' }, allowedOrigins: origins },
} as const;

/** Admin API for event sources. Changes reach the tracking path within SOURCE_CACHE_TTL. */
export function sourceRoutes(deps: { configStore: ConfigStore }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/v1/sources', async () => ({ sources: await deps.configStore.listSources() }));

    app.post<{ Body: NewEventSource }>('/v1/sources', { schema: { body: newSource } }, async (request, reply) => {
      return reply.code(201).send(await deps.configStore.createSource(request.body));
    });

    app.get<{ Params: { id: string } }>('/v1/sources/:id', { schema: { params: idParam } }, async (request) => {
      const source = await deps.configStore.getSource(request.params.id);
      if (source === undefined) throw new SluiceError('NOT_FOUND', `no source ${request.params.id}`);
      return source;
    });

    app.patch<{ Params: { id: string }; Body: EventSourcePatch }>('/v1/sources/:id', { schema: { params: idParam, body: patch } }, async (request) => {
      const source = await deps.configStore.updateSource(request.params.id, request.body);
      if (source === undefined) throw new SluiceError('NOT_FOUND', `no source ${request.params.id}`);
      return source;
    });

    app.delete<{ Params: { id: string } }>('/v1/sources/:id', { schema: { params: idParam } }, async (request, reply) => {
      if (!(await deps.configStore.deleteSource(request.params.id))) throw new SluiceError('NOT_FOUND', `no source ${request.params.id}`);
      return reply.code(204).send();
    });
  };
}
