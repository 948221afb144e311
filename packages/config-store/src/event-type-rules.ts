import { SluiceError, type ErrorDetail } from '@sluice/core';
import { MAX_EVENT_SCHEMA_BYTES, compileEventSchema } from './event-schema.ts';

/**
 * What an event type may be, checked the same way by every writer (the admin API and
 * `sluice event-types`): its name is an event `type` /track accepts, its schema compiles.
 */

/** Longest event type name: the longest `type` /track accepts. */
export const MAX_EVENT_TYPE_NAME_LENGTH = 128;
/** Longest description, in characters. */
export const MAX_EVENT_TYPE_DESCRIPTION_LENGTH = 1024;
/** The policies an event type may have for an invalid event. */
export const INVALID_EVENT_POLICIES = ['reject', 'dead-letter'] as const;

/** The problems of an event type's fields, each with its JSON path; fields not given are not checked. */
export function eventTypeProblems(eventType: { readonly name?: string; readonly description?: string; readonly schema?: unknown; readonly onInvalid?: string }): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const { name, description, schema, onInvalid } = eventType;
  if (name !== undefined && (name.length === 0 || name.length > MAX_EVENT_TYPE_NAME_LENGTH)) problems.push({ path: '/name', message: `a name has 1 to ${String(MAX_EVENT_TYPE_NAME_LENGTH)} characters, as an event's type` });
  if (description !== undefined && description.length > MAX_EVENT_TYPE_DESCRIPTION_LENGTH) problems.push({ path: '/description', message: `at most ${String(MAX_EVENT_TYPE_DESCRIPTION_LENGTH)} characters` });
  if (onInvalid !== undefined && !(INVALID_EVENT_POLICIES as readonly string[]).includes(onInvalid)) problems.push({ path: '/onInvalid', message: `one of ${INVALID_EVENT_POLICIES.join(', ')}` });
  const schemaProblem = schema === undefined || schema === null ? undefined : schemaProblemOf(schema);
  if (schemaProblem !== undefined) problems.push({ path: '/schema', message: schemaProblem });
  return problems;
}

function schemaProblemOf(schema: unknown): string | undefined {
  if (typeof schema !== 'object' || Array.isArray(schema) || schema === null) return 'a JSON Schema is an object';
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > MAX_EVENT_SCHEMA_BYTES) return `a schema has at most ${String(MAX_EVENT_SCHEMA_BYTES)} bytes serialised (this one has ${String(bytes)})`;
  try {
    compileEventSchema(schema as Record<string, unknown>);
    return undefined;
  } catch (error) {
    return `not a valid JSON Schema: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Throws VALIDATION_FAILED naming every problem of `eventType` (see eventTypeProblems). */
export function assertValidEventType(eventType: Parameters<typeof eventTypeProblems>[0]): void {
  const problems = eventTypeProblems(eventType);
  if (problems.length === 0) return;
  throw new SluiceError('VALIDATION_FAILED', problems.map((problem) => `${problem.path}: ${problem.message}`).join('; '), { details: problems });
}
