import { sql, type Generated, type Kysely } from 'kysely';
import { SluiceError } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import type { ConfigSnapshot, ConfigStore, EventSource, EventSourcePatch, EventType, EventTypePatch, InvalidEventPolicy, NewEventSource, NewEventType, Setting } from '../port.ts';

/** The tables as the migrations (sql/migrations.ts) define them. */
export interface ConfigTables {
  sources: { id: string; name: string; enabled: number; allowed_origins: string; rate_limit: number | null; allow_unknown_event_types: number; created_at: string; updated_at: string };
  event_types: { name: string; description: string; schema_json: string | null; enabled: number; on_invalid: string; version: number; created_at: string; updated_at: string };
  settings: { setting_key: string; value_json: string; updated_at: string };
  config_revision: { id: Generated<number>; revision: number | string | bigint };
}

/** What an adapter adds to the shared SQL store: how its engine says "duplicate key", and its health. */
export interface SqlEngine {
  readonly adapter: string;
  /** True when `error` is a primary-key violation (the row exists). */
  isDuplicateKey(error: unknown): boolean;
  /** Classifies an engine failure into a SluiceError (retryable when the engine is unreachable). */
  classify(error: unknown): SluiceError;
  /** Extra health detail (pool figures, path). */
  detail(): Record<string, unknown>;
}

/**
 * The ConfigStore on any SQL engine Kysely speaks (MySQL, SQLite): the adapters differ only
 * in how they connect (SqlEngine). Every write of a source or an event type raises the
 * revision afterwards, so a cache that read the old revision reloads (at worst once more
 * than needed, never too few times).
 */
export class SqlConfigStore implements ConfigStore {
  private closed = false;
  private readonly db: Kysely<ConfigTables>;
  private readonly engine: SqlEngine;

  constructor(db: Kysely<ConfigTables>, engine: SqlEngine) {
    this.db = db;
    this.engine = engine;
  }

  getSource(id: string): Promise<EventSource | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('sources').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toSource(row);
    });
  }

  listSources(): Promise<EventSource[]> {
    return this.run(async () => (await this.db.selectFrom('sources').selectAll().orderBy('id').execute()).map(toSource));
  }

  createSource(source: NewEventSource): Promise<EventSource> {
    return this.run(async () => {
      const now = new Date().toISOString();
      const row = {
        id: source.id,
        name: source.name,
        enabled: source.enabled === false ? 0 : 1,
        allowed_origins: JSON.stringify(source.allowedOrigins ?? []),
        rate_limit: source.rateLimit ?? null,
        allow_unknown_event_types: source.allowUnknownEventTypes === false ? 0 : 1,
        created_at: now,
        updated_at: now,
      };
      await this.insertOnce(() => this.db.insertInto('sources').values(row).execute(), `source ${source.id} already exists`);
      await this.bumpRevision();
      return toSource(row);
    });
  }

  updateSource(id: string, patch: EventSourcePatch): Promise<EventSource | undefined> {
    return this.run(async () => {
      const changes: Partial<ConfigTables['sources']> = { updated_at: new Date().toISOString() };
      if (patch.name !== undefined) changes.name = patch.name;
      if (patch.enabled !== undefined) changes.enabled = patch.enabled ? 1 : 0;
      if (patch.allowedOrigins !== undefined) changes.allowed_origins = JSON.stringify(patch.allowedOrigins);
      if (patch.rateLimit !== undefined) changes.rate_limit = patch.rateLimit;
      if (patch.allowUnknownEventTypes !== undefined) changes.allow_unknown_event_types = patch.allowUnknownEventTypes ? 1 : 0;
      const result = await this.db.updateTable('sources').set(changes).where('id', '=', id).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0 && !(await this.exists('sources', 'id', id))) return undefined;
      await this.bumpRevision();
      return this.getSource(id);
    });
  }

  deleteSource(id: string): Promise<boolean> {
    return this.run(async () => {
      const result = await this.db.deleteFrom('sources').where('id', '=', id).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await this.bumpRevision();
      return true;
    });
  }

  getEventType(name: string): Promise<EventType | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('event_types').selectAll().where('name', '=', name).executeTakeFirst();
      return row === undefined ? undefined : toEventType(row);
    });
  }

  listEventTypes(): Promise<EventType[]> {
    return this.run(async () => (await this.db.selectFrom('event_types').selectAll().orderBy('name').execute()).map(toEventType));
  }

  createEventType(eventType: NewEventType): Promise<EventType> {
    return this.run(async () => {
      const now = new Date().toISOString();
      const row = {
        name: eventType.name,
        description: eventType.description ?? '',
        schema_json: eventType.schema === undefined || eventType.schema === null ? null : JSON.stringify(eventType.schema),
        enabled: eventType.enabled === false ? 0 : 1,
        on_invalid: eventType.onInvalid ?? 'reject',
        version: 1,
        created_at: now,
        updated_at: now,
      };
      await this.insertOnce(() => this.db.insertInto('event_types').values(row).execute(), `event type ${eventType.name} already exists`);
      await this.bumpRevision();
      return toEventType(row);
    });
  }

  updateEventType(name: string, patch: EventTypePatch): Promise<EventType | undefined> {
    return this.run(async () => {
      const changes: Partial<Omit<ConfigTables['event_types'], 'version'>> = { updated_at: new Date().toISOString() };
      if (patch.description !== undefined) changes.description = patch.description;
      if (patch.schema !== undefined) changes.schema_json = patch.schema === null ? null : JSON.stringify(patch.schema);
      if (patch.enabled !== undefined) changes.enabled = patch.enabled ? 1 : 0;
      if (patch.onInvalid !== undefined) changes.on_invalid = patch.onInvalid;
      const result = await this.db
        .updateTable('event_types')
        .set({ ...changes, version: sql<number>`version + 1` })
        .where('name', '=', name)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0 && !(await this.exists('event_types', 'name', name))) return undefined;
      await this.bumpRevision();
      return this.getEventType(name);
    });
  }

  deleteEventType(name: string): Promise<boolean> {
    return this.run(async () => {
      const result = await this.db.deleteFrom('event_types').where('name', '=', name).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await this.bumpRevision();
      return true;
    });
  }

  getSetting(key: string): Promise<Setting | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('settings').selectAll().where('setting_key', '=', key).executeTakeFirst();
      return row === undefined ? undefined : toSetting(row);
    });
  }

  listSettings(): Promise<Setting[]> {
    return this.run(async () => (await this.db.selectFrom('settings').selectAll().orderBy('setting_key').execute()).map(toSetting));
  }

  putSetting(key: string, value: unknown): Promise<Setting> {
    return this.run(async () => {
      const row = { setting_key: key, value_json: JSON.stringify(value ?? null), updated_at: new Date().toISOString() };
      // Update first, insert when absent; a racing insert of the same key loses to a retry of the update.
      const result = await this.db.updateTable('settings').set({ value_json: row.value_json, updated_at: row.updated_at }).where('setting_key', '=', key).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0 && !(await this.exists('settings', 'setting_key', key))) {
        try {
          await this.db.insertInto('settings').values(row).execute();
        } catch (error) {
          if (!this.engine.isDuplicateKey(error)) throw error;
          await this.db.updateTable('settings').set({ value_json: row.value_json, updated_at: row.updated_at }).where('setting_key', '=', key).execute();
        }
      }
      return toSetting(row);
    });
  }

  deleteSetting(key: string): Promise<boolean> {
    return this.run(async () => Number((await this.db.deleteFrom('settings').where('setting_key', '=', key).executeTakeFirst()).numDeletedRows) > 0);
  }

  revision(): Promise<number> {
    return this.run(() => this.readRevision());
  }

  snapshot(): Promise<ConfigSnapshot> {
    return this.run(async () => {
      const revision = await this.readRevision();
      const [sources, eventTypes] = [await this.db.selectFrom('sources').selectAll().orderBy('id').execute(), await this.db.selectFrom('event_types').selectAll().orderBy('name').execute()];
      return { revision, sources: sources.map(toSource), eventTypes: eventTypes.map(toEventType) };
    });
  }

  async health(): Promise<DependencyHealth> {
    if (this.closed) return { ok: false, adapter: this.engine.adapter, error: 'closed' };
    try {
      await sql`SELECT 1`.execute(this.db);
      return { ok: true, adapter: this.engine.adapter, detail: this.engine.detail() };
    } catch (error) {
      return { ok: false, adapter: this.engine.adapter, error: this.engine.classify(error).message, detail: this.engine.detail() };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  /** Runs one store operation: refused once closed; engine failures classified (CONFIG_UNAVAILABLE, POOL_TIMEOUT). */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) throw new SluiceError('CONFIG_UNAVAILABLE', 'the config store is closed');
    try {
      return await operation();
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw this.engine.classify(error);
    }
  }

  private async insertOnce(insert: () => Promise<unknown>, conflict: string): Promise<void> {
    try {
      await insert();
    } catch (error) {
      if (this.engine.isDuplicateKey(error)) throw new SluiceError('CONFLICT', conflict);
      throw error;
    }
  }

  private async exists(table: 'sources' | 'event_types' | 'settings', column: 'id' | 'name' | 'setting_key', value: string): Promise<boolean> {
    const row = await sql<{ one: number }>`SELECT 1 AS one FROM ${sql.table(table)} WHERE ${sql.ref(column)} = ${value}`.execute(this.db);
    return row.rows.length > 0;
  }

  private async bumpRevision(): Promise<void> {
    await this.db.updateTable('config_revision').set({ revision: sql<number>`revision + 1` }).where('id', '=', 1).execute();
  }

  private async readRevision(): Promise<number> {
    const row = await this.db.selectFrom('config_revision').select('revision').where('id', '=', 1).executeTakeFirst();
    if (row === undefined) throw new SluiceError('CONFIG_UNAVAILABLE', 'the config store is not migrated: run `sluice init`', { retryable: true });
    return Number(row.revision);
  }
}

function toSource(row: ConfigTables['sources']): EventSource {
  return {
    id: row.id,
    name: row.name,
    enabled: Number(row.enabled) === 1,
    allowedOrigins: JSON.parse(row.allowed_origins) as string[],
    rateLimit: row.rate_limit === null ? null : Number(row.rate_limit),
    allowUnknownEventTypes: Number(row.allow_unknown_event_types) === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toEventType(row: ConfigTables['event_types']): EventType {
  return {
    name: row.name,
    description: row.description,
    schema: row.schema_json === null ? null : (JSON.parse(row.schema_json) as Record<string, unknown>),
    enabled: Number(row.enabled) === 1,
    onInvalid: row.on_invalid as InvalidEventPolicy,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toSetting(row: ConfigTables['settings']): Setting {
  return { key: row.setting_key, value: JSON.parse(row.value_json) as unknown, updatedAt: row.updated_at };
}
