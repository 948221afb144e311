// An event its type's schema refuses, with the `dead-letter` policy, from /track to the
// store: answered 200, dead-lettered with EVENT_INVALID and its JSON pointer, and stored
// with its id by `sluice dlq replay` once the schema is fixed (all-in-one, embedded bus).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ListReport } from '@sluice/jobs-app';
import { REPO_ROOT, profileEventIds, runSluice, startSluice, tempDir, waitFor } from '@sluice/testkit';

const ADMIN_TOKEN = 'dead-letter-test-admin-token-1';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

async function dlq(env: Record<string, string>, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['apps/cli/src/bin.ts', 'dlq', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
  return stdout;
}

describe('an invalid event with the dead-letter policy', () => {
  it('is answered 200, dead-lettered with EVENT_INVALID and its pointer, and stored by `sluice dlq replay` once the schema is fixed', async () => {
    const { dir, cleanup } = await tempDir('sluice-invalid-');
    cleanups.push(cleanup);
    const env = { DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200', SOURCE_CACHE_TTL: '1' };
    const profile = 'invalid-events';
    let sluice = await startSluice('start', env);
    cleanups.push(() => sluice.stop().then(() => undefined));
    const created = await fetch(`${sluice.url}/v1/event-types`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'purchase', onInvalid: 'dead-letter', schema: { type: 'object', required: ['total'], properties: { total: { type: 'number' } } } }),
    });
    expect(created.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // SOURCE_CACHE_TTL
    const tracked = await fetch(`${sluice.url}/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: { id: 'demo' }, profile: { id: profile }, events: [{ id: 'good', type: 'purchase', properties: { total: 3 } }, { id: 'bad', type: 'purchase', properties: { total: 'three' } }] }),
    });
    expect(tracked.status).toBe(200);
    expect(await tracked.json()).toMatchObject({ events: ['good', 'bad'], deadLettered: [{ index: 1, id: 'bad', code: 'EVENT_INVALID', path: '/events/1/properties/total' }] });
    await waitFor(async () => (await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).includes('good'), 10_000, () => 'the valid event was not stored');
    expect(await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).toEqual(['good']);
    await sluice.stop();

    // The operator sees why, fixes the type, and replays.
    const listed = JSON.parse(await dlq(env, 'list', '--json', '--idle', '1000')) as ListReport;
    expect(listed.letters).toEqual([expect.objectContaining({ kind: 'message', code: 'EVENT_INVALID', origin: '/track', reason: expect.stringContaining('/events/1/properties/total: must be number') as unknown })]);
    expect((await runSluice(['event-types', 'update', 'purchase', '--no-schema'], env)).code).toBe(0);
    expect(await dlq(env, 'replay', '--code', 'EVENT_INVALID', '--idle', '1000')).toContain('"replayed":1');
    sluice = await startSluice('start', env);
    await waitFor(async () => (await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).includes('bad'), 20_000, () => 'the replayed event was not stored');
    expect((await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).sort()).toEqual(['bad', 'good']);
  }, 180_000);
});
