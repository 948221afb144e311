import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { EVENT_TIME_FORMAT, SluiceError, isEventTime, measureJson } from '@sluice/core';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body's text as received (empty for requests without one). */
    rawBody: string;
  }
}

/**
 * Two validators: bodies are checked strictly (no type coercion, unknown fields rejected
 * where a schema says so, no defaults filled in: the body's text must stay what was
 * validated), while querystrings and params — always strings on the wire — are coerced to
 * the declared types.
 */
export function validatorCompiler() {
  const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });
  const coercing = new Ajv({ allErrors: false, coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false });
  // Event times: the one parser the worker's normaliser uses too (RFC 3339, years 0001–9999).
  strict.addFormat(EVENT_TIME_FORMAT, isEventTime);
  return ({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }): ValidateFunction => (httpPart === 'body' ? strict : coercing).compile(schema);
}

const BYTE_ORDER_MARK = 0xfeff;

/**
 * Bodies are read as sent: a compressed one would reach the JSON parser as bytes (and a
 * decompression without a limit is a bomb), so it is refused by name until Sluice inflates
 * bodies itself, within TRACK_MAX_BODY_SIZE.
 */
export function unsupportedEncoding(request: FastifyRequest): SluiceError | undefined {
  const encoding = request.headers['content-encoding'];
  if (encoding === undefined || encoding.trim().toLowerCase() === 'identity') return undefined;
  return new SluiceError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding.slice(0, 32)} is not supported; send the body uncompressed`);
}

/** How complex a JSON body may be (TRACK_MAX_DEPTH, TRACK_MAX_KEYS). */
export interface JsonLimits {
  readonly maxDepth: number;
  readonly maxKeys: number;
}

/**
 * JSON bodies (`application/json`, and `text/plain` as `navigator.sendBeacon` sends them)
 * are measured first — nesting depth and object members, in one loop over the text, so that
 * nothing recursive (parser checks, validation, the worker's serialiser) ever sees a body
 * nested 100 000 deep — then go through fastify's own parser (prototype-poisoning keys
 * rejected), and their text is kept as `request.rawBody`, which /track puts on the bus
 * unchanged.
 */
export function registerJsonParsers(app: FastifyInstance, limits: JsonLimits): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.decorateRequest('rawBody', '');
  app.removeContentTypeParser('application/json');
  for (const type of ['application/json', 'text/plain']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (request, body, done) => {
      const text = body as string; // parseAs: 'string'
      // The parser ignores a byte order mark; JSON does not allow one inside the bus message.
      request.rawBody = text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text;
      const { depth, members } = measureJson(text);
      if (depth > limits.maxDepth) return done(new SluiceError('NESTING_TOO_DEEP', `the body nests ${depth} levels deep; the limit is ${limits.maxDepth}`), undefined);
      if (members > limits.maxKeys) return done(new SluiceError('TOO_MANY_KEYS', `the body holds ${members} keys; the limit is ${limits.maxKeys}`), undefined);
      void parse(request, text, (error, value) => done(error === null ? null : (prototypeKeyError(error, text) ?? error), value));
    });
  }
}

/**
 * fastify's parser refuses a `__proto__` key, and a `constructor` key holding `prototype`
 * (they could change objects' prototypes downstream), with the same error as broken JSON.
 * For a body that is valid JSON this says which key was refused, as VALIDATION_FAILED;
 * anything else is left as it is. Runs only on a refused body.
 */
function prototypeKeyError(error: Error & { code?: string }, text: string): SluiceError | undefined {
  if (error.code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return undefined;
  let refused: string | undefined;
  try {
    JSON.parse(text, (key, value: unknown) => {
      const poisons = key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype'));
      if (poisons) refused ??= key;
      return value;
    });
  } catch {
    return undefined; // not JSON: the parser's error stands
  }
  if (refused === undefined) return undefined;
  const what = refused === '__proto__' ? 'a "__proto__" key' : 'a "constructor" key holding "prototype"';
  return new SluiceError('VALIDATION_FAILED', `the body holds ${what}; such keys are refused anywhere in a body (they could change objects' prototypes)`);
}
