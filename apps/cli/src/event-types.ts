import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { INVALID_EVENT_POLICIES, assertValidEventType, type EventType, type EventTypePatch, type InvalidEventPolicy, type NewEventType } from '@sluice/config-store';
import { SluiceError, isSluiceError } from '@sluice/core';
import { withConfigStore } from './sources.ts';

type Print = (line: string) => void;

const show = (eventType: EventType) => JSON.stringify(eventType);

interface EventTypeOptions {
  description?: string;
  /** A file; false with --no-schema. */
  schema?: string | boolean;
  onInvalid?: InvalidEventPolicy;
  enable?: boolean;
  disable?: boolean;
}

/** `sluice event-types …`: manage event types and their JSON Schemas in the configured config store. */
export function registerEventTypeCommands(program: Command, print: Print): void {
  const types = program.command('event-types').description('manage event types: the JSON Schema of their properties and what /track does with an invalid event');
  types.command('list').description('list every event type').action(() =>
    withConfigStore(async (store) => {
      for (const eventType of await store.listEventTypes()) print(show(eventType));
    }),
  );
  types.command('show <name>').action((name: string) => withConfigStore(async (store) => print(show(await found(store.getEventType(name), name)))));
  withFieldOptions(types.command('add <name>').description('create an event type (enabled; policy reject unless --on-invalid dead-letter)')).action(async (name: string, options: EventTypeOptions) => {
    const eventType: NewEventType = checked({ name, ...(await fieldsOf(options)) });
    return withConfigStore(async (store) => print(show(await store.createEventType(eventType))));
  });
  withFieldOptions(types.command('update <name>').description('change an event type (raises its version); --schema replaces the schema')).action(async (name: string, options: EventTypeOptions) => {
    const patch: EventTypePatch = checked(await fieldsOf(options));
    if (Object.keys(patch).length === 0) throw new InvalidArgumentError('nothing to change: give --schema, --no-schema, --description, --on-invalid, --enable or --disable');
    return withConfigStore(async (store) => print(show(await found(store.updateEventType(name, patch), name))));
  });
  types.command('remove <name>').action((name: string) =>
    withConfigStore(async (store) => {
      if (!(await store.deleteEventType(name))) throw new Error(`no event type ${name}`);
      print(`removed ${name}`);
    }),
  );
}

function withFieldOptions(command: Command): Command {
  return command
    .option('-s, --schema <file>', 'JSON Schema (draft-07) of the events\' properties, from a file (- for standard input)')
    .option('--no-schema', 'no schema: any properties')
    .option('-d, --description <text>', 'what the type is for')
    .option('--on-invalid <policy>', `what /track does with an event the schema refuses: ${INVALID_EVENT_POLICIES.join(' or ')}`, (value: string) => {
      if (!(INVALID_EVENT_POLICIES as readonly string[]).includes(value)) throw new InvalidArgumentError(INVALID_EVENT_POLICIES.join(' or '));
      return value as InvalidEventPolicy;
    })
    .option('--enable', 'enforce the schema')
    .option('--disable', 'keep the type known but do not enforce its schema');
}

/** The fields the options give (commander's --no-schema sets `schema: false`). */
async function fieldsOf(options: EventTypeOptions): Promise<EventTypePatch> {
  const fields: { -readonly [K in keyof EventTypePatch]: EventTypePatch[K] } = {};
  if (typeof options.schema === 'string') fields.schema = await readSchema(options.schema);
  if (options.schema === false) fields.schema = null;
  if (options.description !== undefined) fields.description = options.description;
  if (options.onInvalid !== undefined) fields.onInvalid = options.onInvalid;
  if (options.enable === true) fields.enabled = true;
  if (options.disable === true) fields.enabled = false;
  return fields;
}

async function readSchema(file: string): Promise<Record<string, unknown>> {
  const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new SluiceError('VALIDATION_FAILED', `VALIDATION_FAILED: ${file} is not JSON: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

/** `eventType` when it follows the rules the admin API applies too; else the coded error, its code in front. */
function checked<T extends Parameters<typeof assertValidEventType>[0]>(eventType: T): T {
  try {
    assertValidEventType(eventType);
  } catch (error) {
    if (isSluiceError(error)) throw new SluiceError(error.code, `${error.code}: ${error.message}`, { details: error.details });
    throw error;
  }
  return eventType;
}

async function found(pending: Promise<EventType | undefined>, name: string): Promise<EventType> {
  const eventType = await pending;
  if (eventType === undefined) throw new Error(`no event type ${name}`);
  return eventType;
}
