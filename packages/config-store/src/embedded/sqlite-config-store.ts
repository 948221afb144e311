import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SluiceError } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import type { ConfigStore, EventSource, EventSourcePatch, NewEventSource } from '../port.ts';

interface SourceRow {
  id: string;
  name: string;
  enabled: number;
  allowed_origins: string;
  created_at: string;
  updated_at: string;
}

/** The embedded ConfigStore: a SQLite file under DATA_DIR, shared safely with the CLI (WAL). */
export class SqliteConfigStore implements ConfigStore {
  private readonly db: DatabaseSync;
  private closed = false;

  private readonly path: string;

  constructor(path: string) {
    this.path = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
    this.db.exec(`CREATE TABLE IF NOT EXISTS sources (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled INTEGER NOT NULL,
      allowed_origins TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`);
  }

  async getSource(id: string): Promise<EventSource | undefined> {
    this.assertOpen();
    const row = this.db.prepare('SELECT * FROM sources WHERE id = ?').get(id) as SourceRow | undefined;
    return row === undefined ? undefined : toSource(row);
  }

  async listSources(): Promise<EventSource[]> {
    this.assertOpen();
    return (this.db.prepare('SELECT * FROM sources ORDER BY id').all() as unknown as SourceRow[]).map(toSource);
  }

  async createSource(source: NewEventSource): Promise<EventSource> {
    this.assertOpen();
    const now = new Date().toISOString();
    const { changes } = this.db
      .prepare('INSERT OR IGNORE INTO sources (id, name, enabled, allowed_origins, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(source.id, source.name, source.enabled === false ? 0 : 1, JSON.stringify(source.allowedOrigins ?? []), now, now);
    if (changes === 0) throw new SluiceError('CONFLICT', `source ${source.id} already exists`);
    return (await this.getSource(source.id)) as EventSource;
  }

  async updateSource(id: string, patch: EventSourcePatch): Promise<EventSource | undefined> {
    const current = await this.getSource(id);
    if (current === undefined) return undefined;
    const next = { ...current, ...patch };
    this.db
      .prepare('UPDATE sources SET name = ?, enabled = ?, allowed_origins = ?, updated_at = ? WHERE id = ?')
      .run(next.name, next.enabled ? 1 : 0, JSON.stringify(next.allowedOrigins), new Date().toISOString(), id);
    return this.getSource(id);
  }

  async deleteSource(id: string): Promise<boolean> {
    this.assertOpen();
    return this.db.prepare('DELETE FROM sources WHERE id = ?').run(id).changes > 0;
  }

  async health(): Promise<DependencyHealth> {
    if (this.closed) return { ok: false, adapter: 'embedded', error: 'closed' };
    return { ok: true, adapter: 'embedded', detail: { path: this.path } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new SluiceError('STORE_UNAVAILABLE', 'the config store is closed');
  }
}

function toSource(row: SourceRow): EventSource {
  return { id: row.id, name: row.name, enabled: row.enabled === 1, allowedOrigins: JSON.parse(row.allowed_origins) as string[], createdAt: row.created_at, updatedAt: row.updated_at };
}
