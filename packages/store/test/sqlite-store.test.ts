import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { SCHEMA_VERSION, SqliteEventStore } from '../src/index.ts';
import { eventsOnly, runStoreConformance, sampleEvent } from '../src/conformance.ts';

runStoreConformance('embedded', async ({ retentionMs }) => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-store-'));
  return { store: new SqliteEventStore({ path: join(dir, 'events.sqlite'), retentionMs }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('embedded store: retention and schema', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-store-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('deletes events received before the retention period in maintain(), by receive time alone', async () => {
    const store = new SqliteEventStore({ path: ':memory:', retentionMs: 30 * 86_400_000 });
    const old = sampleEvent({ receivedAt: '2026-01-01T00:00:00.000Z', time: '2026-03-09T00:00:00.000Z' });
    const recent = sampleEvent({ receivedAt: '2026-03-01T00:00:00.000Z', time: '2020-01-01T00:00:00.000Z' });
    await store.writeBatch(eventsOnly([old, recent]));
    const report = await store.maintain(new Date('2026-03-10T00:00:00.000Z'));
    expect(report.actions[0]).toMatch(/deleted 1 events/);
    expect(await store.getEvent(old.sourceId, old.id)).toBeUndefined();
    expect(await store.getEvent(recent.sourceId, recent.id)).toEqual(recent);
    await store.close();
  });

  it('migrates a database file of the schema before per-source ids, keeping every event', async () => {
    const path = join(dir, 'events.sqlite');
    const legacy = [sampleEvent({ id: 'old-1', sourceId: 'shop', profileId: 'mig' }), sampleEvent({ id: 'old-2', sourceId: 'demo', profileId: 'mig', receivedAt: new Date(Date.now() - 1000).toISOString() })];
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE events (id TEXT PRIMARY KEY, profile_id TEXT NOT NULL, session_id TEXT NOT NULL, time TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX events_by_profile ON events (profile_id, time, id); CREATE INDEX events_by_session ON events (session_id, time, id); CREATE INDEX events_by_time ON events (time, id);
      CREATE TABLE profiles (id TEXT PRIMARY KEY, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, last_session_id TEXT NOT NULL, last_source_id TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;`);
    const insert = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?)');
    for (const event of legacy) insert.run(event.id, event.profileId, event.sessionId, event.time, JSON.stringify(event));
    db.prepare("INSERT INTO profiles VALUES ('p-mig', '2026-01-01', '2026-01-02', 's', 'shop', 7)").run();
    db.close();

    const store = new SqliteEventStore({ path, retentionMs: 0 });
    expect(await store.getEvent('shop', 'old-1')).toEqual(legacy[0]);
    expect(await store.getEvent('demo', 'old-2')).toEqual(legacy[1]);
    expect(await store.getProfile('p-mig')).toMatchObject({ version: 7 });
    expect((await store.queryEvents({ profileId: 'mig', limit: 10 })).events.map((event) => event.id)).toEqual(['old-1', 'old-2']);
    expect(await store.writeBatch(eventsOnly([legacy[0]!, { ...legacy[0]!, sourceId: 'demo' }]))).toEqual([{ status: 'exists' }, { status: 'created' }]);
    expect(await store.provision()).toEqual([]);
    await store.close();
    const check = new DatabaseSync(path);
    expect(check.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
    check.close();
  });

  it('migrates a schema 2 file (merges not yet indexed by survivor nor time), keeping its events and merges', async () => {
    const path = join(dir, 'events.sqlite');
    const event = sampleEvent({ profileId: 'survivor' });
    const first = new SqliteEventStore({ path, retentionMs: 0 });
    await first.writeBatch(eventsOnly([event]));
    await first.recordMerge({ from: 'anon', into: 'survivor', mergedAt: '2026-12-01T10:00:00.000Z' });
    await first.close();
    const db = new DatabaseSync(path);
    db.exec('DROP INDEX profile_merges_by_into; DROP INDEX profile_merges_by_time; PRAGMA user_version = 2');
    db.close();

    const store = new SqliteEventStore({ path, retentionMs: 0 });
    expect(await store.getEvent(event.sourceId, event.id)).toEqual(event);
    expect(await store.getMergesInto('survivor', 10)).toEqual([{ from: 'anon', into: 'survivor', mergedAt: '2026-12-01T10:00:00.000Z' }]);
    expect(await store.listMerges({ limit: 10 })).toEqual([{ from: 'anon', into: 'survivor', mergedAt: '2026-12-01T10:00:00.000Z' }]);
    await store.close();
    const check = new DatabaseSync(path);
    expect(check.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
    expect(check.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'profile_merges_by_%' ORDER BY name").all()).toEqual([{ name: 'profile_merges_by_into' }, { name: 'profile_merges_by_time' }]);
    check.close();
  });

  it('refuses a database file of a newer schema version with a clear message', async () => {
    const path = join(dir, 'events.sqlite');
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${String(SCHEMA_VERSION + 1)}`);
    db.close();
    expect(() => new SqliteEventStore({ path, retentionMs: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('newer than this Sluice reads') }));
  });
});
