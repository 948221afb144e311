import { readFileSync } from 'node:fs';
import { Client, errors, type estypes } from '@elastic/elasticsearch';
import { LRUCache } from 'lru-cache';
import { SluiceError, type TrackedEvent } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type { EventPage, EventQuery, EventStore, MaintenanceReport, ProfileRecord, SessionRecord, WriteOutcome } from '../port.ts';
import { TIER_PREFERENCE, esTime, ilmPolicy, planLifecycle, rolloverConditions, type EventsIndexState, type LifecycleAction, type LifecycleSettings } from './lifecycle.ts';
import { eventsMappings, profileMappings, sessionMappings } from './mappings.ts';

export interface ElasticStoreOptions {
  readonly nodes: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly apiKey?: string;
  /** PEM file of the CA that signed the cluster's HTTP certificate. */
  readonly caFile?: string;
  readonly verifyCerts: boolean;
  readonly maxConnections: number;
  readonly requestTimeoutMs: number;
  readonly compression: boolean;
  /** Prefix of every index, alias and template name (TENANT_NAME, plus "-"). */
  readonly prefix: string;
  readonly shards: number;
  readonly replicas: number;
  /** Index refresh interval, e.g. "1s". */
  readonly refreshInterval: string;
  /** Make writes visible to searches before they return (tests; costs up to one refresh). */
  readonly refreshOnWrite?: boolean;
  /** The events lifecycle; absent: `off` (the write index is never rolled over). */
  readonly lifecycle?: LifecycleSettings;
  /** Snapshots of Sluice's indices; absent: none. */
  readonly snapshots?: SnapshotSettings;
}

export interface SnapshotSettings {
  readonly repository: string;
  /** `existing`: registered by the operator; `fs`/`s3`: registered by init with `location`. */
  readonly type: 'existing' | 'fs' | 's3';
  readonly location?: string;
  readonly intervalMs: number;
  /** Most recent successful snapshots kept. */
  readonly keep: number;
}

const isResponse = (error: unknown, type: string): boolean =>
  error instanceof errors.ResponseError && (error.body as { error?: { type?: string } } | undefined)?.error?.type === type;

/** Optimistic-concurrency retries of one profile or session upsert batch. */
const UPSERT_ATTEMPTS = 5;

/** How long the list of events indices is trusted without a write into a new one. */
const GENERATIONS_CACHE_MS = 60_000;

/** Profiles and sessions whose last written version this process remembers, per index. */
const WRITTEN_CACHE_ENTRIES = 100_000;

/** A document as this process last wrote it, with the sequence number that write got. */
interface Written<T> {
  readonly doc: T;
  readonly seqNo: number;
  readonly primaryTerm: number;
}

/**
 * The EventStore on Elasticsearch (client 8.x: it speaks to Elasticsearch 8 and, through the
 * compatibility header, 9). Events go through a rollover write alias with `create` and the
 * event id as `_id` (idempotent within the write index); every bulk item is classified.
 * Profiles and sessions are merged read-modify-write with `if_seq_no`/`if_primary_term`, so
 * an older version never overwrites a newer one, with no scripts (the minimal distribution
 * has no painless).
 */
export class ElasticStore implements EventStore {
  private readonly client: Client;
  private readonly options: ElasticStoreOptions;
  private closed = false;
  /** Who runs the lifecycle, decided at init from the mode and the cluster's features. */
  private lifecycleRunner: 'ilm' | 'sluice' | 'off' | undefined;
  /** Who takes snapshots: SLM where the cluster has it, else `snapshot()` (Sluice's job). */
  private snapshotRunner: 'slm' | 'sluice' | 'off' | undefined;
  private readonly creationTimes = new Map<string, number>();
  private generations: { readonly list: EventsIndexState[]; readonly until: number } | undefined;
  /**
   * Per index, the profiles and sessions this process wrote last, with their sequence
   * numbers: the next update of a known id is written with `if_seq_no` straight away, no
   * `mget` first. Another writer in between makes it a 409, and that id is read again.
   */
  private readonly written = new Map<string, LRUCache<string, Written<unknown>>>();

  constructor(options: ElasticStoreOptions) {
    this.options = options;
    const auth = options.apiKey ? { apiKey: options.apiKey } : options.username ? { username: options.username, password: options.password ?? '' } : undefined;
    this.client = new Client({
      nodes: [...options.nodes],
      ...(auth ? { auth } : {}),
      tls: { ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}), rejectUnauthorized: options.verifyCerts },
      compression: options.compression,
      requestTimeout: options.requestTimeoutMs,
      // The transport retries on another node after a connection error or a 502/503/504 (a
      // node down must not fail a request the others can serve); every write is idempotent.
      // Timeouts are not retried here: the storage worker retries those with backoff.
      maxRetries: Math.max(0, options.nodes.length - 1) + 1,
      agent: { connections: options.maxConnections },
    });
  }

  /** Names, all from configuration (never from request data). */
  get names() {
    const p = this.options.prefix;
    return {
      eventsAlias: `${p}sluice-events`,
      eventsPattern: `${p}sluice-events-*`,
      firstEventsIndex: `${p}sluice-events-000001`,
      profiles: `${p}sluice-profiles`,
      sessions: `${p}sluice-sessions`,
      template: `${p}sluice-events`,
      policy: `${p}sluice-events`,
      snapshotPrefix: `${p}sluice-`,
      snapshotPolicy: `${p}sluice-snapshots`,
      allIndices: `${p}sluice-*`,
    };
  }

  /**
   * Creates or updates the index template and creates the first events index behind its
   * write alias, and the profiles and sessions indices. Idempotent; safe from every replica
   * at once (an index another replica just created counts as done).
   */
  async init(): Promise<string[]> {
    const done: string[] = [];
    const names = this.names;
    const settings = { number_of_shards: this.options.shards, number_of_replicas: this.options.replicas, refresh_interval: this.options.refreshInterval };
    const runner = await this.lifecycleRunnerFor();
    let lifecycleSettings = {};
    if (runner === 'ilm' && this.options.lifecycle) {
      await this.call(() => this.client.ilm.putLifecycle({ name: names.policy, policy: ilmPolicy(this.options.lifecycle!) }));
      done.push(`ILM policy ${names.policy}`);
      lifecycleSettings = { 'index.lifecycle.name': names.policy, 'index.lifecycle.rollover_alias': names.eventsAlias };
    }
    await this.call(() => this.client.indices.putIndexTemplate({ name: names.template, index_patterns: [names.eventsPattern], priority: 200, template: { settings: { ...settings, ...lifecycleSettings }, mappings: eventsMappings() }, _meta: { managed_by: 'sluice', lifecycle: runner } }));
    done.push(`index template ${names.template} (lifecycle: ${runner})`);
    if (!(await this.call(() => this.client.indices.existsAlias({ name: names.eventsAlias })))) {
      if (await this.createIndex(names.firstEventsIndex, { aliases: { [names.eventsAlias]: { is_write_index: true } } })) done.push(`index ${names.firstEventsIndex} (write alias ${names.eventsAlias})`);
    }
    for (const [index, mappings] of [[names.profiles, profileMappings()], [names.sessions, sessionMappings()]] as const) {
      if (await this.createIndex(index, { settings, mappings })) done.push(`index ${index}`);
    }
    done.push(...(await this.initSnapshots()));
    return done;
  }

  /** Registers the snapshot repository (fs, s3) and, where the cluster has SLM, its policy. */
  private async initSnapshots(): Promise<string[]> {
    const snapshots = this.options.snapshots;
    if (snapshots === undefined) {
      this.snapshotRunner = 'off';
      return [];
    }
    const done: string[] = [];
    if (snapshots.type !== 'existing') {
      const settings = snapshots.type === 'fs' ? { location: snapshots.location ?? '', compress: true } : { bucket: snapshots.location ?? '' };
      await this.call(() => this.client.snapshot.createRepository({ name: snapshots.repository, repository: { type: snapshots.type, settings } as estypes.SnapshotRepository }));
      done.push(`snapshot repository ${snapshots.repository} (${snapshots.type} ${snapshots.location ?? ''})`);
    } else {
      await this.call(() => this.client.snapshot.getRepository({ name: snapshots.repository }));
    }
    const hasSlm = await this.client.slm.getStatus().then(() => true, () => false);
    this.snapshotRunner = hasSlm ? 'slm' : 'sluice';
    if (hasSlm) {
      await this.call(() => this.client.slm.putLifecycle(slmPolicy(this.names, snapshots)));
      done.push(`SLM policy ${this.names.snapshotPolicy}`);
    }
    return done;
  }

  /**
   * One snapshot of every index of this prefix (events, profiles, sessions), waited for;
   * then the oldest successful snapshots beyond `keep` are deleted. A no-op where SLM runs.
   */
  async snapshot(now: Date): Promise<MaintenanceReport> {
    this.assertOpen();
    const snapshots = this.options.snapshots;
    if (snapshots === undefined) return { actions: [] };
    if (this.snapshotRunner === undefined) await this.initSnapshots();
    if (this.snapshotRunner !== 'sluice') return { actions: [] };
    const names = this.names;
    const name = `${names.snapshotPrefix}${now.toISOString().replace(/[-:.]/g, '').toLowerCase()}`;
    const actions: string[] = [];
    try {
      const taken = await this.client.snapshot.create({ repository: snapshots.repository, snapshot: name, indices: names.allIndices, include_global_state: false, wait_for_completion: true });
      actions.push(`snapshot ${name}: ${taken.snapshot?.state ?? 'taken'} (${String(taken.snapshot?.shards?.successful ?? 0)} shards)`);
    } catch (error) {
      // Another replica's job took the snapshot of this instant: done.
      if (!isResponse(error, 'invalid_snapshot_name_exception')) throw this.unavailable(error);
    }
    const all = await this.call(() => this.client.snapshot.get({ repository: snapshots.repository, snapshot: `${names.snapshotPrefix}*`, ignore_unavailable: true }));
    const successful = all.snapshots?.filter((snapshot) => snapshot.state === 'SUCCESS').sort((a, b) => (a.start_time_in_millis ?? 0) - (b.start_time_in_millis ?? 0)) ?? [];
    const expired = successful.slice(0, Math.max(0, successful.length - snapshots.keep)).map((snapshot) => snapshot.snapshot);
    if (expired.length > 0) {
      await this.client.snapshot.delete({ repository: snapshots.repository, snapshot: expired.join(',') }).catch((error: unknown) => {
        if (!(error instanceof errors.ResponseError && error.statusCode === 404)) throw this.unavailable(error);
      });
      actions.push(`deleted snapshots ${expired.join(', ')}`);
    }
    return { actions };
  }

  private async createIndex(index: string, body: Omit<estypes.IndicesCreateRequest, 'index'>): Promise<boolean> {
    try {
      await this.client.indices.create({ index, ...body });
      return true;
    } catch (error) {
      if (isResponse(error, 'resource_already_exists_exception')) return false;
      throw this.unavailable(error);
    }
  }

  /** Deletes every index and template of this prefix (tests, and `sluice` teardown tooling). */
  async dropAll(): Promise<void> {
    const names = this.names;
    // Deletes need concrete names (action.destructive_requires_name): resolve the pattern first.
    const existing = Object.keys(await this.call(() => this.client.indices.get({ index: [names.eventsPattern, names.profiles, names.sessions], ignore_unavailable: true, allow_no_indices: true })));
    if (existing.length > 0) await this.call(() => this.client.indices.delete({ index: existing }));
    await this.client.indices.deleteIndexTemplate({ name: names.template }).catch(() => undefined);
    await this.client.ilm.deleteLifecycle({ name: names.policy }).catch(() => undefined);
  }

  async writeEvents(events: readonly TrackedEvent[]): Promise<WriteOutcome[]> {
    this.assertOpen();
    if (events.length === 0) return [];
    const operations = events.flatMap((event) => [{ create: { _index: this.names.eventsAlias, _id: event.id } }, event]);
    const response = await this.call(() => this.client.bulk({ operations, refresh: this.options.refreshOnWrite ? 'wait_for' : false }));
    const outcomes = response.items.map((item): WriteOutcome => classify(item.create));
    await this.undoRolloverDuplicates(events, response.items, outcomes);
    return outcomes;
  }

  /**
   * `create` with the event id de-duplicates within one index only: an event first written
   * before a rollover and written again after it (a redelivery, a retried bulk) would land
   * twice (elastic/elasticsearch#44794). Only an event received before its target index
   * existed can be such a copy, so only those are checked — a realtime mget of the older
   * indices that were live since the event was received — and a copy found there makes
   * the new write an "exists" (the new document is deleted). In the steady state this costs
   * nothing: every event is younger than the write index.
   */
  private async undoRolloverDuplicates(events: readonly TrackedEvent[], items: readonly Partial<Record<estypes.BulkOperationType, estypes.BulkResponseItem>>[], outcomes: WriteOutcome[]): Promise<void> {
    const created = new Map<string, number>();
    for (const item of items) if (item.create !== undefined && !created.has(item.create._index)) created.set(item.create._index, await this.creationTime(item.create._index));
    const suspects: { position: number; index: string; event: TrackedEvent }[] = [];
    for (const [position, event] of events.entries()) {
      const item = items[position]?.create;
      if (outcomes[position]?.status !== 'created' || item === undefined) continue;
      if (Date.parse(event.receivedAt) < (created.get(item._index) ?? 0)) suspects.push({ position, index: item._index, event });
    }
    if (suspects.length === 0) return;
    const generations = await this.generationsIncluding(new Set(suspects.map(({ index }) => index)));
    const docs = suspects.flatMap(({ index, event }) => {
      const received = Date.parse(event.receivedAt);
      // Older generations that were the write index at some point since the event was received.
      return generations.filter((generation, at) => generation.name < index && (generations[at + 1]?.createdAt ?? Infinity) > received).map((generation) => ({ _index: generation.name, _id: event.id }));
    });
    if (docs.length === 0) return;
    const found = await this.call(() => this.client.mget({ docs, realtime: true, _source: false }));
    const elsewhere = new Set(found.docs.flatMap((doc) => ('found' in doc && doc.found ? [doc._id] : [])));
    const duplicates = suspects.filter(({ event }) => elsewhere.has(event.id));
    if (duplicates.length === 0) return;
    await this.call(() => this.client.bulk({ operations: duplicates.map(({ index, event }) => ({ delete: { _index: index, _id: event.id } })), refresh: this.options.refreshOnWrite ? 'wait_for' : false }));
    for (const { position } of duplicates) outcomes[position] = { status: 'exists' };
  }

  /**
   * The events indices, oldest first, from a short-lived cache: generations are only ever
   * added on top (a write into an index not listed refreshes it) or deleted (a lookup in a
   * deleted index finds nothing). Without it, a backlog of events received before the
   * write index existed (after a rollover, a replay) cost a cluster-state read per batch.
   */
  private async generationsIncluding(indices: ReadonlySet<string>): Promise<EventsIndexState[]> {
    const cached = this.generations;
    if (cached !== undefined && cached.until > Date.now() && [...indices].every((index) => cached.list.some((generation) => generation.name === index))) return cached.list;
    const list = (await this.eventsIndices()).sort((a, b) => a.name.localeCompare(b.name));
    this.generations = { list, until: Date.now() + GENERATIONS_CACHE_MS };
    return list;
  }

  /** Creation time of a concrete events index (immutable, so cached). */
  private async creationTime(index: string): Promise<number> {
    const known = this.creationTimes.get(index);
    if (known !== undefined) return known;
    const settings = await this.call(() => this.client.indices.getSettings({ index, name: 'index.creation_date', flat_settings: true }));
    const created = Number((settings[index]?.settings)?.['index.creation_date'] ?? 0);
    this.creationTimes.set(index, created);
    return created;
  }

  async upsertProfiles(profiles: readonly ProfileRecord[]): Promise<void> {
    await this.upsert(this.names.profiles, profiles);
  }

  async upsertSessions(sessions: readonly SessionRecord[]): Promise<void> {
    await this.upsert(this.names.sessions, sessions);
  }

  private remembered<T>(index: string): LRUCache<string, Written<T>> {
    let written = this.written.get(index);
    if (written === undefined) {
      written = new LRUCache<string, Written<unknown>>({ max: WRITTEN_CACHE_ENTRIES });
      this.written.set(index, written);
    }
    return written as unknown as LRUCache<string, Written<T>>;
  }

  /**
   * Merge and write with optimistic concurrency: from the remembered version of an id where
   * this process wrote it last, else from an `mget`; conflicting ids are read and merged again.
   */
  private async upsert<T extends Versioned>(index: string, records: readonly T[], firstAttemptFromMemory = true): Promise<void> {
    this.assertOpen();
    const part = new UpsertPart<T>(index, records, this.remembered<T>(index), firstAttemptFromMemory);
    for (let attempt = 0; attempt < UPSERT_ATTEMPTS && part.wanted.size > 0; attempt += 1) {
      if (attempt > 0) part.forgetAll();
      if (part.unknown.length > 0) part.learn(await this.call(() => this.client.mget<T>({ index, ids: part.unknown, realtime: true })));
      const operations = part.operations();
      if (operations.length === 0) return;
      const response = await this.call(() => this.client.bulk({ operations, refresh: this.options.refreshOnWrite ? 'wait_for' : false }));
      part.settle(response.items);
    }
    if (part.wanted.size > 0) throw new SluiceError('STORE_UNAVAILABLE', `upsert into ${index} kept conflicting for ${String(part.wanted.size)} ids`);
  }

  /**
   * A worker batch in one `_bulk`: the events (`create`), and the profile and session
   * updates — `index` with `if_seq_no` where this process remembers the document, else
   * `create` (most unknown ids are new visitors and sessions: no read first). An update that
   * conflicts (409: another writer, or a document this process never saw) falls back to the
   * read-merge-write loop.
   */
  async writeBatch(batch: { readonly events: readonly TrackedEvent[]; readonly profiles: readonly ProfileRecord[]; readonly sessions: readonly SessionRecord[] }): Promise<WriteOutcome[]> {
    this.assertOpen();
    const names = this.names;
    const profiles = new UpsertPart<ProfileRecord>(names.profiles, batch.profiles, this.remembered(names.profiles), true);
    const sessions = new UpsertPart<SessionRecord>(names.sessions, batch.sessions, this.remembered(names.sessions), true);
    const profileOps = profiles.operations();
    const sessionOps = sessions.operations();
    const operations = [...batch.events.flatMap((event) => [{ create: { _index: names.eventsAlias, _id: event.id } }, event]), ...profileOps, ...sessionOps];
    if (operations.length === 0) return [];
    const response = await this.call(() => this.client.bulk({ operations, refresh: this.options.refreshOnWrite ? 'wait_for' : false }));
    const eventItems = response.items.slice(0, batch.events.length);
    const outcomes = eventItems.map((item): WriteOutcome => classify(item.create));
    await this.undoRolloverDuplicates(batch.events, eventItems, outcomes);
    const afterEvents = response.items.slice(batch.events.length);
    profiles.settle(afterEvents.slice(0, profileOps.length / 2));
    sessions.settle(afterEvents.slice(profileOps.length / 2));
    // Updates another writer got in first: read, merge, write again.
    await Promise.all([
      profiles.wanted.size > 0 ? this.upsert(names.profiles, [...profiles.wanted.values()], false) : undefined,
      sessions.wanted.size > 0 ? this.upsert(names.sessions, [...sessions.wanted.values()], false) : undefined,
    ]);
    return outcomes;
  }

  async getEvent(id: string): Promise<TrackedEvent | undefined> {
    this.assertOpen();
    const response = await this.call(() => this.client.search<TrackedEvent>({ index: this.names.eventsPattern, query: { ids: { values: [id] } }, size: 1 }));
    if (response.hits.hits.length === 0) partialResults(response);
    return response.hits.hits[0]?._source;
  }

  async getProfile(id: string): Promise<ProfileRecord | undefined> {
    return this.getById<ProfileRecord>(this.names.profiles, id);
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return this.getById<SessionRecord>(this.names.sessions, id);
  }

  private async getById<T>(index: string, id: string): Promise<T | undefined> {
    this.assertOpen();
    try {
      const response = await this.client.get<T>({ index, id });
      return response._source;
    } catch (error) {
      if (error instanceof errors.ResponseError && error.statusCode === 404) return undefined;
      throw this.unavailable(error);
    }
  }

  async queryEvents(query: EventQuery): Promise<EventPage> {
    this.assertOpen();
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const filter: estypes.QueryDslQueryContainer[] = [];
    if (query.profileId !== undefined) filter.push({ term: { profileId: query.profileId } });
    if (query.sessionId !== undefined) filter.push({ term: { sessionId: query.sessionId } });
    if (query.from !== undefined || query.to !== undefined) filter.push({ range: { time: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } } });
    const limit = Math.trunc(query.limit);
    const response = await this.call(() => this.client.search<TrackedEvent>({
      index: this.names.eventsPattern,
      query: { bool: { filter } },
      sort: [{ time: { order: 'desc' } }, { id: { order: 'desc' } }],
      size: limit + 1,
      track_total_hits: false,
      ...(after ? { search_after: [Date.parse(after.time), after.id] } : {}),
    }));
    partialResults(response);
    const events = response.hits.hits.slice(0, limit).flatMap((hit) => (hit._source ? [hit._source] : []));
    const last = events.at(-1);
    return response.hits.hits.length > limit && last !== undefined ? { events, next: encodeCursor({ time: last.time, id: last.id }) } : { events };
  }

  /** ILM where asked for (or, with `auto`, where the cluster has it); else Sluice's own job. */
  private async lifecycleRunnerFor(): Promise<'ilm' | 'sluice' | 'off'> {
    if (this.lifecycleRunner !== undefined) return this.lifecycleRunner;
    const mode = this.options.lifecycle?.mode ?? 'off';
    let runner: 'ilm' | 'sluice' | 'off' = mode === 'auto' ? 'sluice' : mode;
    if (mode === 'auto' || mode === 'ilm') {
      // The minimal distribution has no ILM: its _ilm endpoints do not exist.
      const hasIlm = await this.client.ilm.getStatus().then(() => true, () => false);
      if (hasIlm) runner = 'ilm';
      else if (mode === 'ilm') throw new SluiceError('STORE_UNAVAILABLE', 'ELASTIC_LIFECYCLE=ilm but this cluster has no ILM (use auto or sluice)');
    }
    this.lifecycleRunner = runner;
    return runner;
  }

  /**
   * Sluice's lifecycle pass where the cluster has no ILM: rollover of the write index on the
   * configured conditions, then warm (read-only, tier preference, forcemerge), cold, delete.
   */
  async maintain(now: Date): Promise<MaintenanceReport> {
    this.assertOpen();
    const lifecycle = this.options.lifecycle;
    if (lifecycle === undefined || (await this.lifecycleRunnerFor()) !== 'sluice') return { actions: [] };
    const actions: string[] = [];
    for (const action of planLifecycle(await this.eventsIndices(), now.getTime(), lifecycle)) {
      const done = await this.apply(action, lifecycle);
      if (done !== undefined) actions.push(done);
    }
    if (actions.length > 0) this.generations = undefined;
    return { actions };
  }

  private async eventsIndices(): Promise<EventsIndexState[]> {
    const names = this.names;
    const indices = await this.call(() => this.client.indices.get({ index: names.eventsPattern, features: ['aliases', 'settings'], flat_settings: true, allow_no_indices: true, ignore_unavailable: true }));
    return Object.entries(indices).map(([name, index]) => {
      const settings = (index.settings ?? {}) as Record<string, string | undefined>;
      return {
        name,
        createdAt: Number(settings['index.creation_date'] ?? 0),
        isWriteIndex: index.aliases?.[names.eventsAlias]?.is_write_index === true,
        tierPreference: settings['index.routing.allocation.include._tier_preference'],
        writeBlocked: settings['index.blocks.write'] === 'true',
      };
    });
  }

  private async apply(action: LifecycleAction, lifecycle: LifecycleSettings): Promise<string | undefined> {
    const index = action.index;
    switch (action.kind) {
      case 'rollover': {
        try {
          const result = await this.client.indices.rollover({ alias: this.names.eventsAlias, new_index: action.next, conditions: rolloverConditions(lifecycle) });
          return result.rolled_over ? `rolled ${index} over to ${action.next}` : undefined;
        } catch (error) {
          // Another replica's pass rolled over to the same name first: done.
          if (isResponse(error, 'resource_already_exists_exception')) return undefined;
          throw this.unavailable(error);
        }
      }
      case 'warm': {
        await this.call(() => this.client.indices.putSettings({ index, settings: { 'index.blocks.write': true, 'index.routing.allocation.include._tier_preference': TIER_PREFERENCE.warm } }));
        if (lifecycle.forcemergeSegments > 0) await this.call(() => this.client.indices.forcemerge({ index, max_num_segments: lifecycle.forcemergeSegments, wait_for_completion: false }));
        return `moved ${index} to warm${lifecycle.forcemergeSegments > 0 ? ` (force-merge to ${String(lifecycle.forcemergeSegments)} segments started)` : ''}`;
      }
      case 'cold':
        await this.call(() => this.client.indices.putSettings({ index, settings: { 'index.blocks.write': true, 'index.routing.allocation.include._tier_preference': TIER_PREFERENCE.cold } }));
        return `moved ${index} to cold`;
      case 'delete':
        try {
          await this.client.indices.delete({ index });
          return `deleted ${index}`;
        } catch (error) {
          if (error instanceof errors.ResponseError && error.statusCode === 404) return undefined;
          throw this.unavailable(error);
        }
    }
  }

  async health(): Promise<DependencyHealth> {
    try {
      const health = await this.client.cluster.health({}, { requestTimeout: 3000 });
      return { ok: !this.closed && health.status !== 'red', adapter: 'elasticsearch', detail: { status: health.status, nodes: health.number_of_nodes, alias: this.names.eventsAlias } };
    } catch (error) {
      return { ok: false, adapter: 'elasticsearch', error: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new SluiceError('STORE_UNAVAILABLE', 'the store is closed');
  }

  /** Runs a request; transport failures and 429/5xx become a retryable STORE_UNAVAILABLE. */
  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  private unavailable(error: unknown): SluiceError {
    if (error instanceof SluiceError) return error;
    const detail = error instanceof errors.ResponseError ? `HTTP ${String(error.statusCode)} ${JSON.stringify(error.body).slice(0, 300)}` : (error as Error).message;
    return new SluiceError('STORE_UNAVAILABLE', `Elasticsearch: ${detail}`, { cause: error });
  }
}

/** Every day at 01:30 (and more often for shorter intervals), as SLM's cron schedules want it. */
export function slmSchedule(intervalMs: number): string {
  const minutes = Math.max(1, Math.round(intervalMs / 60_000));
  if (minutes < 60) return `0 0/${String(minutes)} * * * ?`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `0 0 0/${String(hours)} * * ?`;
  return '0 30 1 * * ?';
}

/** The SLM policy that snapshots Sluice's indices where the cluster has SLM. */
export function slmPolicy(names: { snapshotPolicy: string; snapshotPrefix: string; allIndices: string }, snapshots: SnapshotSettings): estypes.SlmPutLifecycleRequest {
  return {
    policy_id: names.snapshotPolicy,
    schedule: slmSchedule(snapshots.intervalMs),
    name: `<${names.snapshotPrefix}{now/d}-{now{HHmmss}}>`,
    repository: snapshots.repository,
    config: { indices: [names.allIndices], include_global_state: false },
    // Keep the last `keep`; an older one also expires after `keep + 1` intervals.
    retention: { min_count: 1, max_count: snapshots.keep, expire_after: esTime(snapshots.intervalMs * (snapshots.keep + 1)) },
  };
}

/**
 * A search that some shards could not answer (a node just died, its replicas not yet
 * promoted) is an outage, not an answer: a page with holes would look complete to a reader.
 */
function partialResults(response: estypes.SearchResponse<unknown>): void {
  if (response._shards.failed > 0) throw new SluiceError('STORE_UNAVAILABLE', `Elasticsearch: ${String(response._shards.failed)} of ${String(response._shards.total)} shards did not answer`);
}

interface Versioned {
  readonly id: string;
  readonly version: number;
  readonly firstSeen: string;
}

/** The updates of one index within one write: what is wanted, what is known of the current documents. */
class UpsertPart<T extends Versioned> {
  /** Merged updates by id still to write. */
  readonly wanted = new Map<string, T>();
  private readonly current = new Map<string, Written<T> | undefined>();
  private readonly sent = new Map<string, T>();

  readonly index: string;
  private readonly memory: LRUCache<string, Written<T>>;

  constructor(index: string, records: readonly T[], memory: LRUCache<string, Written<T>>, fromMemory: boolean) {
    this.index = index;
    this.memory = memory;
    for (const record of records) {
      const seen = this.wanted.get(record.id);
      this.wanted.set(record.id, seen ? mergeVersioned(seen, record) : record);
    }
    if (fromMemory) for (const id of this.wanted.keys()) {
      const known = memory.get(id);
      if (known !== undefined) this.current.set(id, known);
    }
  }

  /** Ids whose current document must be read. */
  get unknown(): string[] {
    return [...this.wanted.keys()].filter((id) => !this.current.has(id));
  }

  forgetAll(): void {
    this.current.clear();
  }

  learn(read: { docs: readonly estypes.MgetResponseItem<T>[] }): void {
    for (const doc of read.docs) {
      if ('found' in doc && doc.found && doc._source !== undefined && doc._seq_no !== undefined && doc._primary_term !== undefined) this.current.set(doc._id, { doc: doc._source, seqNo: doc._seq_no, primaryTerm: doc._primary_term });
      else this.current.set(doc._id, undefined);
    }
  }

  /** Bulk operations for what changes: `create` where nothing is there, else `index` with `if_seq_no`. */
  operations(): object[] {
    const operations: object[] = [];
    this.sent.clear();
    for (const [id, next] of this.wanted) {
      const existing = this.current.get(id);
      if (existing === undefined) {
        operations.push({ create: { _index: this.index, _id: id } }, next);
        this.sent.set(id, next);
        continue;
      }
      const merged = mergeVersioned(existing.doc, next);
      if (sameFields(merged, existing.doc)) {
        this.wanted.delete(id);
        continue;
      }
      operations.push({ index: { _index: this.index, _id: id, if_seq_no: existing.seqNo, if_primary_term: existing.primaryTerm } }, merged);
      this.sent.set(id, merged);
    }
    return operations;
  }

  /** Written ids are remembered and done; conflicts (409) are forgotten and stay wanted. */
  settle(items: readonly Partial<Record<estypes.BulkOperationType, estypes.BulkResponseItem>>[]): void {
    for (const item of items) {
      const result = item.index ?? item.create;
      if (!result?._id) continue;
      if (result.status < 300) {
        const doc = this.sent.get(result._id);
        if (doc !== undefined && result._seq_no !== undefined && result._primary_term !== undefined) this.memory.set(result._id, { doc, seqNo: result._seq_no, primaryTerm: result._primary_term });
        this.wanted.delete(result._id);
      } else if (result.status === 409) {
        this.memory.delete(result._id);
        this.current.delete(result._id);
      } else throw new SluiceError('STORE_UNAVAILABLE', `upsert into ${this.index} failed: ${result.error?.type ?? ''} ${result.error?.reason ?? ''}`);
    }
  }
}

/** Profile and session documents are flat: equal when every field is (cheaper than serialising both). */
function sameFields(a: object, b: object): boolean {
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => left[key] === right[key]);
}

/** The highest version wins; `firstSeen` keeps the earliest. */
function mergeVersioned<T extends { version: number; firstSeen: string }>(current: T, next: T): T {
  return { ...(next.version >= current.version ? next : current), firstSeen: current.firstSeen < next.firstSeen ? current.firstSeen : next.firstSeen };
}

/** One bulk item: created, already there (409 on create), retryable (429, 5xx) or rejected. */
export function classify(item: estypes.BulkResponseItem | undefined): WriteOutcome {
  if (!item) return { status: 'retryable', code: 'STORE_UNAVAILABLE', reason: 'no result for this item' };
  if (item.status === 201 || item.status === 200) return { status: 'created' };
  if (item.status === 409) return { status: 'exists' };
  const reason = `${item.error?.type ?? 'error'}: ${item.error?.reason ?? ''}`.slice(0, 1000);
  if (item.status === 429 || item.status >= 500) return { status: 'retryable', code: 'STORE_UNAVAILABLE', reason };
  return { status: 'rejected', code: 'STORE_REJECTED', reason };
}
