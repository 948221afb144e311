import type { estypes } from '@elastic/elasticsearch';
import { SluiceError, type TrackedEvent } from '@sluice/core';
import { queryTimeMs } from '../query-time.ts';
import { decodeCursor, encodeCursor, receivedAtMs } from '../cursor.ts';
import { assertContextValuesQuery } from '../context-values.ts';
import type { ContextValuesQuery, EventPage, EventQuery, EventReader, ProfileRecord, SessionRecord } from '../port.ts';
import type { ElasticContext } from './connection.ts';
import { isNotFound, request, storeError } from './errors.ts';
import { eventDocumentId } from './names.ts';

/** The read side: events by (source, id) and by profile/session/receive time, profiles and sessions by id. */
export class ElasticReader implements EventReader {
  private readonly context: ElasticContext;

  constructor(context: ElasticContext) {
    this.context = context;
  }

  /**
   * Searches every events generation for the document id derived from source and id — and
   * for the bare event id, the `_id` of documents written before ids were per source, taken
   * only when the document's own source matches.
   */
  async getEvent(sourceId: string, eventId: string): Promise<TrackedEvent | undefined> {
    const { client, names } = this.context;
    const documentId = eventDocumentId({ sourceId, id: eventId });
    const response = await request(() => client.search<TrackedEvent>({ index: names.eventsPattern, query: { ids: { values: [documentId, eventId] } }, size: 10 }));
    const hits = response.hits.hits.filter((hit) => hit._source?.sourceId === sourceId && hit._source.id === eventId);
    if (hits.length === 0) assertComplete(response);
    return (hits.find((hit) => hit._id === documentId) ?? hits[0])?._source;
  }

  getProfile(id: string): Promise<ProfileRecord | undefined> {
    return this.getById<ProfileRecord>(this.context.names.profiles, id);
  }

  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.getById<SessionRecord>(this.context.names.sessions, id);
  }

  /** Newest first by receive time, then source id, then id (the cursor's keys); `search_after` pages. */
  async queryEvents(query: EventQuery): Promise<EventPage> {
    const { client, names } = this.context;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const filter: estypes.QueryDslQueryContainer[] = [];
    if (query.profileId !== undefined) filter.push({ term: { profileId: query.profileId } });
    if (query.sessionId !== undefined) filter.push({ term: { sessionId: query.sessionId } });
    if (query.from !== undefined || query.to !== undefined) {
      filter.push({ range: { receivedAt: { format: 'epoch_millis', ...(query.from === undefined ? {} : { gte: queryTimeMs(query.from, 'from') }), ...(query.to === undefined ? {} : { lt: queryTimeMs(query.to, 'to') }) } } });
    }
    const limit = Math.trunc(query.limit);
    const response = await request(() => client.search<TrackedEvent>({
      index: names.eventsPattern,
      query: { bool: { filter } },
      sort: [{ receivedAt: { order: 'desc' } }, { sourceId: { order: 'desc' } }, { id: { order: 'desc' } }],
      size: limit + 1,
      track_total_hits: false,
      ...(after ? { search_after: [after.receivedAtMs, after.sourceId, after.id] } : {}),
    }));
    assertComplete(response);
    const events = response.hits.hits.slice(0, limit).flatMap((hit) => (hit._source ? [hit._source] : []));
    const last = events.at(-1);
    return response.hits.hits.length > limit && last !== undefined ? { events, next: encodeCursor({ receivedAtMs: receivedAtMs(last), sourceId: last.sourceId, id: last.id }) } : { events };
  }

  /**
   * A `terms` aggregation on the keyed field of the flattened `context` (`context.a.b`):
   * ordered by key, which Elasticsearch answers exactly (no per-shard approximation), and
   * no hits read. Values over `ignore_above` are not indexed, so never listed.
   */
  async contextValues(query: ContextValuesQuery): Promise<string[]> {
    assertContextValuesQuery(query);
    const { client, names } = this.context;
    const response = await request(() => client.search({
      index: names.eventsPattern,
      size: 0,
      track_total_hits: false,
      query: { bool: { filter: [{ terms: { profileId: [...query.profileIds] } }] } },
      aggs: { values: { terms: { field: `context.${query.path.join('.')}`, size: query.limit, order: { _key: 'asc' } } } },
    }));
    assertComplete(response);
    const buckets = (response.aggregations?.['values'] as estypes.AggregationsStringTermsAggregate | undefined)?.buckets;
    return (Array.isArray(buckets) ? buckets : []).map((bucket) => String(bucket.key));
  }

  private async getById<T>(index: string, id: string): Promise<T | undefined> {
    try {
      const response = await this.context.client.get<T>({ index, id });
      return response._source;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storeError(error);
    }
  }
}

/**
 * A search that some shards could not answer (a node just died, its replicas not yet
 * promoted) is an outage, not an answer: a page with holes would look complete to a reader.
 */
export function assertComplete(response: estypes.SearchResponse<unknown>): void {
  if (response._shards.failed > 0) throw new SluiceError('STORE_UNAVAILABLE', `Elasticsearch: ${String(response._shards.failed)} of ${String(response._shards.total)} shards did not answer`);
}
