import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from '@jest/globals';
import { SqliteConfigStore } from '../src/index.ts';
import { runConfigStoreConformance } from '../src/conformance.ts';

runConfigStoreConformance('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
  return { store: await SqliteConfigStore.open(join(dir, 'config.sqlite')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('embedded config store migrations', () => {
  it('migrates a file written before migrations existed, keeping its sources', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    const path = join(dir, 'config.sqlite');
    try {
      // The table as the embedded store created it before issue 13.
      const old = new DatabaseSync(path);
      old.exec(`CREATE TABLE sources (id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled INTEGER NOT NULL, allowed_origins TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`);
      old.prepare('INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)').run('web', 'Web', 1, '["https://shop.example"]', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
      old.close();
      const store = await SqliteConfigStore.open(path);
      expect(await store.getSource('web')).toMatchObject({ id: 'web', allowedOrigins: ['https://shop.example'], rateLimit: null, allowUnknownEventTypes: true });
      await store.createEventType({ name: 'click' });
      await store.close();
      // Opening again runs nothing and keeps everything.
      const again = await SqliteConfigStore.open(path);
      expect(await again.getEventType('click')).toMatchObject({ version: 1 });
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('two stores opening one new file at once both work (one migrates, the other waits)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    try {
      const [a, b] = await Promise.all([SqliteConfigStore.open(join(dir, 'c.sqlite')), SqliteConfigStore.open(join(dir, 'c.sqlite'))]);
      await a.createSource({ id: 'one', name: 'One' });
      expect(await b.getSource('one')).toMatchObject({ id: 'one' });
      await a.close();
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
