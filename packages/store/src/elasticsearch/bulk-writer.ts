import type { estypes } from '@elastic/elasticsearch';
import type { TrackedEvent } from '@sluice/core';
import type { ProfileRecord, SessionRecord, StoreBatch, WriteOutcome } from '../port.ts';
import { serialiseEvent } from '../serialise.ts';
import type { ElasticContext } from './connection.ts';
import { classifyItem, request } from './errors.ts';
import { readEventsIndices } from './lifecycle-executor.ts';
import type { EventsIndexState } from './lifecycle.ts';
import { eventDocumentId } from './names.ts';
import type { VersionedUpserts } from './upserts.ts';

/** How long the list of events indices is trusted without a write into a new one. */
const GENERATIONS_CACHE_MS = 60_000;

type BulkItem = Partial<Record<estypes.BulkOperationType, estypes.BulkResponseItem>>;

/** An event sent in this bulk: where it is in the batch, and its document id. */
interface SentEvent {
  readonly position: number;
  readonly event: TrackedEvent;
  readonly documentId: string;
}

/**
 * The storage worker's write: a batch in one `_bulk` — the events (`create` through the
 * rollover write alias, `_id` from source and id), then the profile and session updates
 * (`index` with `if_seq_no` where this process remembers the document, else `create`: most
 * unknown ids are new visitors and sessions, no read first). An update that conflicts (409:
 * another writer, or a document this process never saw) falls back to the read-merge-write
 * loop. Each event is serialised on its own: one that cannot be is rejected alone.
 */
export class BulkWriter {
  private readonly context: ElasticContext;
  private readonly upserts: VersionedUpserts;
  private readonly creationTimes = new Map<string, number>();
  private generations: { readonly list: EventsIndexState[]; readonly until: number } | undefined;

  constructor(context: ElasticContext, upserts: VersionedUpserts) {
    this.context = context;
    this.upserts = upserts;
  }

  async writeBatch(batch: StoreBatch): Promise<WriteOutcome[]> {
    const { client, names, refresh } = this.context;
    const outcomes: WriteOutcome[] = [];
    const sent: SentEvent[] = [];
    // Pre-serialised lines: the client sends strings as they are.
    const operations: (string | object)[] = [];
    batch.events.forEach((event, position) => {
      const serialised = serialiseEvent(event);
      if ('rejected' in serialised) {
        outcomes.push(serialised.rejected);
        return;
      }
      const documentId = eventDocumentId(event);
      outcomes.push({ status: 'retryable', code: 'STORE_UNAVAILABLE', reason: 'not written' });
      sent.push({ position, event, documentId });
      operations.push(JSON.stringify({ create: { _index: names.eventsAlias, _id: documentId } }), serialised.json);
    });
    const profiles = this.upserts.part<ProfileRecord>(names.profiles, batch.profiles);
    const sessions = this.upserts.part<SessionRecord>(names.sessions, batch.sessions);
    const profileOps = profiles.operations();
    const sessionOps = sessions.operations();
    operations.push(...profileOps, ...sessionOps);
    if (operations.length === 0) return outcomes;
    const response = await request(() => client.bulk({ operations, refresh }));
    const eventItems = response.items.slice(0, sent.length);
    sent.forEach(({ position }, at) => {
      outcomes[position] = classifyItem(eventItems[at]?.create);
    });
    await this.undoRolloverDuplicates(sent, eventItems, outcomes);
    const afterEvents = response.items.slice(sent.length);
    profiles.settle(afterEvents.slice(0, profileOps.length / 2));
    sessions.settle(afterEvents.slice(profileOps.length / 2));
    // Updates another writer got in first: read, merge, write again.
    await Promise.all([
      profiles.wanted.size > 0 ? this.upserts.upsert(names.profiles, [...profiles.wanted.values()], false) : undefined,
      sessions.wanted.size > 0 ? this.upserts.upsert(names.sessions, [...sessions.wanted.values()], false) : undefined,
    ]);
    return outcomes;
  }

  /** After a lifecycle pass changed the generations: list them again at the next need. */
  forgetGenerations(): void {
    this.generations = undefined;
  }

  /**
   * `create` with a document id de-duplicates within one index only: an event first written
   * before a rollover and written again after it (a redelivery, a retried bulk) would land
   * twice (elastic/elasticsearch#44794). Only an event received before its target index
   * existed can be such a copy, so only those are checked — a realtime mget of the older
   * indices that were live since the event was received — and a copy found there makes
   * the new write an "exists" (the new document is deleted). In the steady state this costs
   * nothing: every event is younger than the write index.
   */
  private async undoRolloverDuplicates(sent: readonly SentEvent[], items: readonly BulkItem[], outcomes: WriteOutcome[]): Promise<void> {
    const { client, refresh } = this.context;
    const created = new Map<string, number>();
    for (const item of items) if (item.create !== undefined && !created.has(item.create._index)) created.set(item.create._index, await this.creationTime(item.create._index));
    const suspects: (SentEvent & { index: string })[] = [];
    sent.forEach((entry, at) => {
      const item = items[at]?.create;
      if (outcomes[entry.position]?.status !== 'created' || item === undefined) return;
      if (Date.parse(entry.event.receivedAt) < (created.get(item._index) ?? 0)) suspects.push({ ...entry, index: item._index });
    });
    if (suspects.length === 0) return;
    const generations = await this.generationsIncluding(new Set(suspects.map(({ index }) => index)));
    const docs = suspects.flatMap(({ index, event, documentId }) => {
      const received = Date.parse(event.receivedAt);
      // Older generations that were the write index at some point since the event was received.
      return generations.filter((generation, at) => generation.name < index && (generations[at + 1]?.createdAt ?? Infinity) > received).map((generation) => ({ _index: generation.name, _id: documentId }));
    });
    if (docs.length === 0) return;
    const found = await request(() => client.mget({ docs, realtime: true, _source: false }));
    const elsewhere = new Set(found.docs.flatMap((doc) => ('found' in doc && doc.found ? [doc._id] : [])));
    const duplicates = suspects.filter(({ documentId }) => elsewhere.has(documentId));
    if (duplicates.length === 0) return;
    await request(() => client.bulk({ operations: duplicates.map(({ index, documentId }) => ({ delete: { _index: index, _id: documentId } })), refresh }));
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
    const list = (await readEventsIndices(this.context)).sort((a, b) => a.name.localeCompare(b.name));
    this.generations = { list, until: Date.now() + GENERATIONS_CACHE_MS };
    return list;
  }

  /** Creation time of a concrete events index (immutable, so cached). */
  private async creationTime(index: string): Promise<number> {
    const known = this.creationTimes.get(index);
    if (known !== undefined) return known;
    const settings = await request(() => this.context.client.indices.getSettings({ index, name: 'index.creation_date', flat_settings: true }));
    const created = Number((settings[index]?.settings)?.['index.creation_date'] ?? 0);
    this.creationTimes.set(index, created);
    return created;
  }
}
