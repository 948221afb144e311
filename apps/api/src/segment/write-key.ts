import type { FastifyRequest } from 'fastify';
import { MAX_ID_LENGTH, SluiceError, idString } from '@sluice/core';

/** Source ids as the `/track` schema admits them. */
const SOURCE_ID = new RegExp(idString.pattern);

/**
 * The write key of a Segment-compatible request, which is the id of the source it sends to.
 * Looked for, in order: HTTP Basic (the key as user, the password ignored — SDKs send it
 * empty), `writeKey` in the body (analytics-node and analytics.js send it there too),
 * `?writeKey=` in the query (the beacon and pixel routes, which cannot set headers).
 * WRITE_KEY_MISSING when none is sent; a key that cannot be a source id is SOURCE_NOT_FOUND
 * without asking the configuration store.
 */
export function writeKeyOf(request: FastifyRequest, body: unknown): string {
  const key = basicUser(request.headers.authorization) ?? bodyWriteKey(body) ?? queryWriteKey(request.query);
  if (key === undefined || key === '') throw new SluiceError('WRITE_KEY_MISSING', 'no write key: send the source id as the HTTP Basic user (empty password), as "writeKey" in the body, or as ?writeKey=');
  if (key.length > MAX_ID_LENGTH || !SOURCE_ID.test(key)) throw new SluiceError('SOURCE_NOT_FOUND', `unknown write key "${key.slice(0, MAX_ID_LENGTH)}"`);
  return key;
}

/** The user part of `Authorization: Basic base64(user:password)`; undefined for any other scheme. */
function basicUser(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(0, colon);
}

function bodyWriteKey(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const key = (body as { writeKey?: unknown }).writeKey;
  return typeof key === 'string' ? key : undefined;
}

function queryWriteKey(query: unknown): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const key = (query as { writeKey?: unknown }).writeKey;
  return typeof key === 'string' ? key : undefined;
}
