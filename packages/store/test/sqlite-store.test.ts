import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from '@jest/globals';
import { SqliteEventStore } from '../src/index.ts';
import { runEventStoreConformance, sampleEvent } from '../src/conformance.ts';

runEventStoreConformance('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-store-'));
  return { store: new SqliteEventStore({ path: join(dir, 'events.sqlite'), retentionMs: 0 }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

it('deletes events past the retention period in maintain()', async () => {
  const store = new SqliteEventStore({ path: ':memory:', retentionMs: 30 * 86_400_000 });
  const old = sampleEvent({ time: '2026-01-01T00:00:00.000Z' });
  const recent = sampleEvent({ time: '2026-03-01T00:00:00.000Z' });
  await store.writeEvents([old, recent]);
  const report = await store.maintain(new Date('2026-03-10T00:00:00.000Z'));
  expect(report.actions[0]).toMatch(/deleted 1 events/);
  expect(await store.getEvent(old.id)).toBeUndefined();
  expect(await store.getEvent(recent.id)).toEqual(recent);
  await store.close();
});
