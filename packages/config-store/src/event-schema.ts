import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** Largest JSON Schema an event type may hold, serialised, in bytes. */
export const MAX_EVENT_SCHEMA_BYTES = 64 * 1024;

/** One reason an event's properties fail their type's schema. */
export interface SchemaViolation {
  /** JSON pointer within the event's properties (`/price`; empty: the properties themselves). */
  readonly pointer: string;
  readonly message: string;
}

/** A compiled event-type schema: the first violation of `properties`, or undefined when they pass. */
export type EventPropertiesCheck = (properties: unknown) => SchemaViolation | undefined;

/**
 * Compiles an event type's JSON Schema (draft-07, with ajv-formats' formats), or throws
 * Ajv's error naming what is wrong with the schema. A fresh Ajv per schema: Ajv caches every
 * schema it compiled (and refuses a second schema with the same `$id`), so one shared
 * instance would grow with every version of every type; compiling happens once per
 * (type, version) and the caller caches the result.
 */
export function compileEventSchema(schema: Readonly<Record<string, unknown>>): EventPropertiesCheck {
  const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false, validateSchema: true });
  addFormats.default(ajv);
  const validate: ValidateFunction = ajv.compile(schema);
  return (properties) => (validate(properties) ? undefined : violationOf(validate.errors?.[0]));
}

function violationOf(error: ErrorObject | undefined): SchemaViolation {
  if (error === undefined) return { pointer: '', message: 'does not match the schema' };
  const missing = error.keyword === 'required' ? (error.params as { missingProperty?: string }).missingProperty : undefined;
  const extra = error.keyword === 'additionalProperties' ? (error.params as { additionalProperty?: string }).additionalProperty : undefined;
  const child = missing ?? extra;
  const pointer = child === undefined ? error.instancePath : `${error.instancePath}/${child.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  return { pointer, message: child === missing && missing !== undefined ? 'is required' : (error.message ?? error.keyword) };
}
