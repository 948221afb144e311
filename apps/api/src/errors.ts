import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ERROR_CATALOGUE, SluiceError, isSluiceError, type ErrorCode, type ErrorDetail, type HttpErrorBody } from '@sluice/core';
import type { Metrics } from '@sluice/observability';

/** Fastify's own errors that map onto catalogue codes. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Sends a catalogue error as `{ statusCode, code, error, message, details? }`. */
export function sendError(reply: FastifyReply, error: SluiceError): FastifyReply {
  const body: HttpErrorBody = { statusCode: error.statusCode, code: error.code, error: httpReason(error.statusCode), message: error.message };
  if (error.details.length > 0) body.details = error.details;
  if (error.code === 'BUS_UNAVAILABLE' || error.code === 'SHUTTING_DOWN' || error.code === 'STORE_UNAVAILABLE') void reply.header('retry-after', '1');
  return reply.code(error.statusCode).send(body);
}

/** Every error leaves the API in the catalogue's shape; unknown errors are logged and answer 500. */
export function registerErrorHandling(app: FastifyInstance, metrics: Metrics): void {
  app.setErrorHandler((raw: FastifyError, request, reply) => {
    const error = toSluiceError(raw);
    metrics.eventsRejected.inc({ code: error.code });
    if (error.code === 'INTERNAL') request.log.error({ err: raw }, 'unexpected error');
    else request.log.info({ code: error.code, message: error.message }, 'request rejected');
    return sendError(reply, error);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new SluiceError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)));
}

function toSluiceError(error: FastifyError): SluiceError {
  if (isSluiceError(error)) return error;
  if (error.validation !== undefined) return validationError(error);
  const mapped = error.code === undefined ? undefined : FASTIFY_CODES[error.code];
  if (mapped !== undefined) return new SluiceError(mapped, error.message, { cause: error });
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return new SluiceError('VALIDATION_FAILED', error.message, { cause: error });
  return new SluiceError('INTERNAL', 'internal error', { cause: error });
}

function validationError(error: FastifyError): SluiceError {
  const issues = error.validation ?? [];
  const tooMany = issues.find((issue) => issue.keyword === 'maxItems' && issue.instancePath === '/events');
  if (tooMany !== undefined) return new SluiceError('TOO_MANY_EVENTS', `too many events in one request (the limit is ${String(tooMany.params['limit'])})`);
  const details: ErrorDetail[] = issues.map((issue) => ({ path: issue.instancePath === '' ? '/' : issue.instancePath, message: describeIssue(issue) }));
  const first = details[0];
  return new SluiceError('VALIDATION_FAILED', first === undefined ? 'invalid body' : `${first.path}: ${first.message}`, { details });
}

function describeIssue(issue: { keyword: string; message?: string | undefined; params: Record<string, unknown> }): string {
  if (issue.keyword === 'required') return `must have property "${String(issue.params['missingProperty'])}"`;
  return issue.message ?? issue.keyword;
}

function httpReason(statusCode: number): string {
  const reasons: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error', 503: 'Service Unavailable' };
  return reasons[statusCode] ?? 'Error';
}

export { ERROR_CATALOGUE };
