import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema } from 'fastify';

/**
 * Two validators: bodies are checked strictly (no type coercion, unknown fields rejected
 * where a schema says so), while querystrings and params — always strings on the wire —
 * are coerced to the declared types.
 */
export function validatorCompiler() {
  const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false });
  const coercing = new Ajv({ allErrors: false, coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false });
  addFormats.default(strict, ['date-time']);
  return ({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }): ValidateFunction => (httpPart === 'body' ? strict : coercing).compile(schema);
}
