import type { TrackedEvent } from '@sluice/core';
import type { DependencyHealth } from '@sluice/observability';
import { SluiceError } from '@sluice/core';
import type { ContextValuesQuery, EventPage, EventQuery, MaintenanceReport, MergeListQuery, ProfileMerge, ProfileRecord, SessionRecord, StoreAdapter, StoreBatch, WriteOutcome } from '../port.ts';
import { BulkWriter } from './bulk-writer.ts';
import { createClient, type ElasticContext, type ElasticStoreOptions } from './connection.ts';
import { ClusterFeatures } from './features.ts';
import { runLifecyclePass } from './lifecycle-executor.ts';
import { ElasticMerges } from './merges.ts';
import { storeNames, type StoreNames } from './names.ts';
import { dropAll, provision, unprovisioned } from './provisioning.ts';
import { ElasticReader } from './reader.ts';
import { takeSnapshot } from './snapshots.ts';
import { VersionedUpserts } from './upserts.ts';

/**
 * The store on Elasticsearch, serving all four store ports from one client; each idea lives
 * in its own module (names, provisioning, bulk writer, versioned upserts, reader, lifecycle
 * executor, snapshots, error classification) and this class only wires them.
 */
export class ElasticStore implements StoreAdapter {
  private readonly context: ElasticContext;
  private readonly features: ClusterFeatures;
  private readonly writer: BulkWriter;
  private readonly reader: ElasticReader;
  private readonly merges: ElasticMerges;
  private closed = false;

  constructor(options: ElasticStoreOptions) {
    this.context = { client: createClient(options), names: storeNames(options.prefix), options, refresh: options.refreshOnWrite ? 'wait_for' : false };
    this.features = new ClusterFeatures(this.context);
    this.writer = new BulkWriter(this.context, new VersionedUpserts(this.context));
    this.reader = new ElasticReader(this.context);
    this.merges = new ElasticMerges(this.context);
  }

  /** Names, all from configuration (never from request data). */
  get names(): StoreNames {
    return this.context.names;
  }

  async provision(): Promise<string[]> {
    this.assertOpen();
    return provision(this.context, this.features);
  }

  async unprovisioned(): Promise<string[]> {
    this.assertOpen();
    return unprovisioned(this.context);
  }

  /** Deletes every index, template and policy of this prefix (tests, teardown tooling). Not on any port. */
  async dropAll(): Promise<void> {
    await dropAll(this.context);
  }

  async writeBatch(batch: StoreBatch): Promise<WriteOutcome[]> {
    this.assertOpen();
    return this.writer.writeBatch(batch);
  }

  async getEvent(sourceId: string, eventId: string): Promise<TrackedEvent | undefined> {
    this.assertOpen();
    return this.reader.getEvent(sourceId, eventId);
  }

  async getProfile(id: string): Promise<ProfileRecord | undefined> {
    this.assertOpen();
    return this.reader.getProfile(id);
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    this.assertOpen();
    return this.reader.getSession(id);
  }

  async recordMerge(merge: ProfileMerge): Promise<ProfileMerge> {
    this.assertOpen();
    return this.merges.recordMerge(merge);
  }

  async removeMerge(from: string, into: string): Promise<void> {
    this.assertOpen();
    return this.merges.removeMerge(from, into);
  }

  async getMerge(id: string): Promise<ProfileMerge | undefined> {
    this.assertOpen();
    return this.merges.getMerge(id);
  }

  async queryEvents(query: EventQuery): Promise<EventPage> {
    this.assertOpen();
    return this.reader.queryEvents(query);
  }

  async contextValues(query: ContextValuesQuery): Promise<string[]> {
    this.assertOpen();
    return this.reader.contextValues(query);
  }

  async getMergesInto(into: string, limit: number): Promise<ProfileMerge[]> {
    this.assertOpen();
    return this.merges.getMergesInto(into, limit);
  }

  async listMerges(query: MergeListQuery): Promise<ProfileMerge[]> {
    this.assertOpen();
    return this.merges.listMerges(query);
  }

  async mergesListedWithin(): Promise<number> {
    this.assertOpen();
    return this.merges.mergesListedWithin();
  }

  async maintain(now: Date): Promise<MaintenanceReport> {
    this.assertOpen();
    const report = await runLifecyclePass(this.context, this.features, now);
    if (report.actions.length > 0) this.writer.forgetGenerations();
    return report;
  }

  async snapshot(now: Date): Promise<MaintenanceReport> {
    this.assertOpen();
    return takeSnapshot(this.context, this.features, now);
  }

  async health(): Promise<DependencyHealth> {
    try {
      const health = await this.context.client.cluster.health({}, { requestTimeout: 3000 });
      return { ok: !this.closed && health.status !== 'red', adapter: 'elasticsearch', detail: { status: health.status, nodes: health.number_of_nodes, alias: this.names.eventsAlias } };
    } catch (error) {
      return { ok: false, adapter: 'elasticsearch', error: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.context.client.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new SluiceError('STORE_UNAVAILABLE', 'the store is closed');
  }
}
