import type { FastifyRequest } from 'fastify';
import { SluiceError } from '@sluice/core';
import { hasBearerToken } from '@sluice/observability';

/** A preHandler that admits only `Authorization: Bearer <ADMIN_TOKEN>` (the scheme in any case, as /readyz and the ops servers read it). */
export function requireAdmin(adminToken: string | undefined) {
  return async (request: FastifyRequest): Promise<void> => {
    if (adminToken === undefined) throw new SluiceError('ADMIN_DISABLED', 'set ADMIN_TOKEN to use the admin and read API');
    if (!hasBearerToken(request.headers.authorization, adminToken)) throw new SluiceError('UNAUTHORIZED', 'missing or wrong bearer token');
  };
}
