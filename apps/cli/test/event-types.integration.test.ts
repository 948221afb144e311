// `sluice event-types` and the new `sluice sources` fields, on the embedded config store and
// on MariaDB after `sluice init` (which runs the config store's migrations).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createTestDatabase, mysqlEnv, mysqlTestSettings } from '@sluice/config-store/mysql-testing';
import { runSluice, tempDir } from '@sluice/testkit';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

async function exercise(env: Record<string, string>, dir: string): Promise<void> {
  const sluice = (...args: string[]) => runSluice(args, env);
  await writeFile(join(dir, 'purchase.json'), JSON.stringify({ type: 'object', required: ['price'], properties: { price: { type: 'number' } } }));
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ type: 'objekt' }));
  await writeFile(join(dir, 'not-json.json'), '{');

  const added = await sluice('event-types', 'add', 'purchase', '--schema', join(dir, 'purchase.json'), '--on-invalid', 'dead-letter', '--description', 'A sale');
  expect(added.code).toBe(0);
  expect(JSON.parse(added.output)).toMatchObject({ name: 'purchase', onInvalid: 'dead-letter', enabled: true, version: 1, schema: { required: ['price'] } });
  expect(await sluice('event-types', 'add', 'bad', '--schema', join(dir, 'bad.json'))).toMatchObject({ code: 1, output: expect.stringContaining('VALIDATION_FAILED: /schema: not a valid JSON Schema') as unknown });
  expect(await sluice('event-types', 'add', 'bad', '--schema', join(dir, 'not-json.json'))).toMatchObject({ code: 1, output: expect.stringContaining('is not JSON') as unknown });
  expect(await sluice('event-types', 'add', 'bad', '--on-invalid', 'drop')).toMatchObject({ code: 1 });
  expect((await sluice('event-types', 'add', 'purchase')).output).toContain('already exists');
  expect(JSON.parse((await sluice('event-types', 'update', 'purchase', '--disable')).output)).toMatchObject({ enabled: false, version: 2 });
  expect(JSON.parse((await sluice('event-types', 'update', 'purchase', '--no-schema', '--on-invalid', 'reject')).output)).toMatchObject({ schema: null, onInvalid: 'reject', version: 3 });
  expect(JSON.parse((await sluice('event-types', 'show', 'purchase')).output)).toMatchObject({ version: 3, description: 'A sale' });
  expect((await sluice('event-types', 'list')).output.trim().split('\n')).toHaveLength(1);
  expect(await sluice('event-types', 'remove', 'purchase')).toMatchObject({ code: 0, output: expect.stringContaining('removed purchase') as unknown });
  expect((await sluice('event-types', 'show', 'purchase')).code).toBe(1);

  expect(JSON.parse((await sluice('sources', 'add', 'shop', '--rate-limit', '50', '--refuse-unknown-types')).output)).toMatchObject({ rateLimit: 50, allowUnknownEventTypes: false });
  expect(JSON.parse((await sluice('sources', 'rate-limit', 'shop', 'default')).output)).toMatchObject({ rateLimit: null });
  expect(JSON.parse((await sluice('sources', 'unknown-types', 'shop', 'allow')).output)).toMatchObject({ allowUnknownEventTypes: true });
  expect((await sluice('sources', 'rate-limit', 'shop', '0')).output).toContain('VALIDATION_FAILED: /rateLimit');
  expect((await sluice('sources', 'rate-limit', 'shop', 'lots')).code).toBe(1);
}

describe('sluice event-types', () => {
  it('manages event types and source fields on the embedded config store', async () => {
    const { dir, cleanup } = await tempDir('sluice-event-types-');
    cleanups.push(cleanup);
    await exercise({ DATA_DIR: join(dir, 'data'), LOGGING_LEVEL: 'error', CONFIG_ADAPTER: 'embedded' }, dir);
  });

  it('does the same on MariaDB once `sluice init` has migrated the database', async () => {
    const { dir, cleanup } = await tempDir('sluice-event-types-');
    cleanups.push(cleanup);
    const { database, drop } = await createTestDatabase();
    cleanups.push(drop);
    const env = { ...mysqlEnv(mysqlTestSettings(database)), DATA_DIR: join(dir, 'data'), LOGGING_LEVEL: 'error' };
    // Before init: a coded, clear failure.
    expect(await runSluice(['event-types', 'list'], env)).toMatchObject({ code: 1, output: expect.stringContaining('run `sluice init`') as unknown });
    const init = await runSluice(['init'], env);
    expect(init).toMatchObject({ code: 0, output: expect.stringContaining('mysql: ran migration 0002_event_types_settings_revision') as unknown });
    expect((await runSluice(['init'], env)).output).toContain('mysql: schema up to date');
    await exercise(env, dir);
  });
});
