import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema } from 'fastify';

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
  addFormats.default(strict, ['date-time']);
  return ({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }): ValidateFunction => (httpPart === 'body' ? strict : coercing).compile(schema);
}

const BYTE_ORDER_MARK = 0xfeff;

/**
 * JSON bodies (`application/json`, and `text/plain` as `navigator.sendBeacon` sends them)
 * go through fastify's own parser — prototype-poisoning keys rejected — and their text is
 * kept as `request.rawBody`, which /track puts on the bus unchanged.
 */
export function registerJsonParsers(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.decorateRequest('rawBody', '');
  app.removeContentTypeParser('application/json');
  for (const type of ['application/json', 'text/plain']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (request, body, done) => {
      const text = body as string; // parseAs: 'string'
      // The parser ignores a byte order mark; JSON does not allow one inside the bus message.
      request.rawBody = text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text;
      void parse(request, text, done);
    });
  }
}
