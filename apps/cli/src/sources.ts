import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '@sluice/config';
import { assertValidSource, type ConfigStore, type EventSource, type NewEventSource } from '@sluice/config-store';
import { SluiceError, isSluiceError } from '@sluice/core';
import { createAdapters } from '@sluice/wiring';
import { createLogger } from '@sluice/observability';

type Print = (line: string) => void;

export async function withConfigStore<T>(work: (store: ConfigStore) => Promise<T>): Promise<T> {
  const config = loadConfig({ ...process.env, DEMO_SOURCE: 'false' });
  const { configStore } = await createAdapters(config, createLogger('error'), ['configStore']);
  try {
    return await work(configStore);
  } finally {
    await configStore.close();
  }
}

const show = (source: EventSource) => JSON.stringify(source);

/**
 * `source` when it follows the rules the admin API applies too (assertValidSource), so that
 * the CLI cannot make a source `/track` cannot use; else the coded error, its code in front.
 */
function checked<T extends Partial<NewEventSource>>(source: T): T {
  try {
    assertValidSource(source);
  } catch (error) {
    if (isSluiceError(error)) throw new SluiceError(error.code, `${error.code}: ${error.message}`, { details: error.details });
    throw error;
  }
  return source;
}

/** `sluice sources …`: manage event sources in the configured config store. */
export function registerSourceCommands(program: Command, print: Print): void {
  const sources = program.command('sources').description('manage event sources (the credential sent as source.id)');
  sources.command('list').description('list every source').action(() =>
    withConfigStore(async (store) => {
      for (const source of await store.listSources()) print(show(source));
    }),
  );
  sources
    .command('add <id>')
    .description('create an enabled source')
    .option('-n, --name <name>', 'display name')
    .option('-o, --origin <origin...>', 'allowed browser origin(s) as browsers send them, e.g. https://shop.example, or * for any')
    .option('--disabled', 'create it disabled')
    .option('--rate-limit <n|default>', 'events per second for this source, or `default` for TRACK_RATE_LIMIT', parseRateLimit)
    .option('--refuse-unknown-types', 'answer 422 EVENT_TYPE_UNKNOWN to events whose type is not configured (default: allowed)')
    .action((id: string, options: { name?: string; origin?: string[]; disabled?: boolean; rateLimit?: number | null; refuseUnknownTypes?: boolean }) =>
      withConfigStore(async (store) =>
        print(show(await store.createSource(checked({ id, name: options.name ?? id, enabled: options.disabled !== true, allowedOrigins: options.origin ?? [], rateLimit: options.rateLimit ?? null, allowUnknownEventTypes: options.refuseUnknownTypes !== true })))),
      ),
    );
  sources.command('show <id>').action((id: string) => withConfigStore(async (store) => print(show(await found(store.getSource(id), id)))));
  sources.command('enable <id>').action((id: string) => withConfigStore(async (store) => print(show(await found(store.updateSource(id, { enabled: true }), id)))));
  sources.command('disable <id>').action((id: string) => withConfigStore(async (store) => print(show(await found(store.updateSource(id, { enabled: false }), id)))));
  sources
    .command('origins <id> <origin...>')
    .description('replace the allowed origins')
    .action((id: string, origins: string[]) => withConfigStore(async (store) => print(show(await found(store.updateSource(id, checked({ allowedOrigins: origins })), id)))));
  sources
    .command('rate-limit <id> <n|default>')
    .description('set the events per second of a source, or `default` for TRACK_RATE_LIMIT')
    .action((id: string, limit: string) => withConfigStore(async (store) => print(show(await found(store.updateSource(id, checked({ rateLimit: parseRateLimit(limit) })), id)))));
  sources
    .command('unknown-types <id> <allow|refuse>')
    .description('whether /track takes events whose type is not a configured event type')
    .action((id: string, policy: string) => {
      if (policy !== 'allow' && policy !== 'refuse') throw new InvalidArgumentError('allow or refuse');
      return withConfigStore(async (store) => print(show(await found(store.updateSource(id, { allowUnknownEventTypes: policy === 'allow' }), id))));
    });
  sources.command('remove <id>').action((id: string) =>
    withConfigStore(async (store) => {
      if (!(await store.deleteSource(id))) throw new Error(`no source ${id}`);
      print(`removed ${id}`);
    }),
  );
}

async function found(pending: Promise<EventSource | undefined>, id: string): Promise<EventSource> {
  const source = await pending;
  if (source === undefined) throw new Error(`no source ${id}`);
  return source;
}

/** `--rate-limit`: a whole number of events per second, or `default` (null: TRACK_RATE_LIMIT). */
function parseRateLimit(value: string): number | null {
  if (value === 'default') return null;
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a whole number of events per second, or `default`');
  return Number(value);
}
