import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SluiceError } from '@sluice/core';

/** A preHandler that admits only `Authorization: Bearer <ADMIN_TOKEN>`. */
export function requireAdmin(adminToken: string | undefined) {
  const expected = adminToken === undefined ? undefined : Buffer.from(adminToken);
  return async (request: FastifyRequest): Promise<void> => {
    if (expected === undefined) throw new SluiceError('ADMIN_DISABLED', 'set ADMIN_TOKEN to use the admin and read API');
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new SluiceError('UNAUTHORIZED', 'missing or wrong bearer token');
  };
}
