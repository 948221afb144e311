import type { FastifyInstance } from 'fastify';
import { SluiceError } from '@sluice/core';
import { INVALID_EVENT_POLICIES, MAX_EVENT_TYPE_DESCRIPTION_LENGTH, MAX_EVENT_TYPE_NAME_LENGTH, assertValidEventType, type ConfigStore, type EventTypePatch, type NewEventType } from '@sluice/config-store';

// The schemas check shapes; whether a JSON Schema compiles is the config store's rule
// (assertValidEventType), the same one `sluice event-types` applies.
const name = { type: 'string', minLength: 1, maxLength: MAX_EVENT_TYPE_NAME_LENGTH } as const;
const fields = {
  description: { type: 'string', maxLength: MAX_EVENT_TYPE_DESCRIPTION_LENGTH },
  schema: { type: ['object', 'null'] },
  enabled: { type: 'boolean' },
  onInvalid: { type: 'string', enum: INVALID_EVENT_POLICIES },
} as const;
const nameParam = { type: 'object', required: ['name'], properties: { name } } as const;
const newEventType = { type: 'object', required: ['name'], additionalProperties: false, properties: { name, ...fields } } as const;
const patch = { type: 'object', additionalProperties: false, minProperties: 1, properties: fields } as const;

/**
 * Admin API for event types: `/v1/event-types`. Every change raises the type's version;
 * it reaches the tracking path of this replica at once, of every other within SOURCE_CACHE_TTL.
 */
/** `onChange`: after a change, so that the tracking path of this replica sees it at once. */
export function eventTypeRoutes(deps: { configStore: ConfigStore; onChange: () => Promise<void> }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/v1/event-types', async () => ({ eventTypes: await deps.configStore.listEventTypes() }));

    app.post<{ Body: NewEventType }>('/v1/event-types', { schema: { body: newEventType } }, async (request, reply) => {
      assertValidEventType(request.body);
      const created = await deps.configStore.createEventType(request.body);
      await deps.onChange();
      return reply.code(201).send(created);
    });

    app.get<{ Params: { name: string } }>('/v1/event-types/:name', { schema: { params: nameParam } }, async (request) => {
      const eventType = await deps.configStore.getEventType(request.params.name);
      if (eventType === undefined) throw new SluiceError('NOT_FOUND', `no event type ${request.params.name}`);
      return eventType;
    });

    app.patch<{ Params: { name: string }; Body: EventTypePatch }>('/v1/event-types/:name', { schema: { params: nameParam, body: patch } }, async (request) => {
      assertValidEventType(request.body);
      const eventType = await deps.configStore.updateEventType(request.params.name, request.body);
      if (eventType === undefined) throw new SluiceError('NOT_FOUND', `no event type ${request.params.name}`);
      await deps.onChange();
      return eventType;
    });

    app.delete<{ Params: { name: string } }>('/v1/event-types/:name', { schema: { params: nameParam } }, async (request, reply) => {
      if (!(await deps.configStore.deleteEventType(request.params.name))) throw new SluiceError('NOT_FOUND', `no event type ${request.params.name}`);
      await deps.onChange();
      return reply.code(204).send();
    });
  };
}
