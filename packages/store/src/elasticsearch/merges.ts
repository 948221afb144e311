import DataLoader from 'dataloader';
import { SluiceError } from '@sluice/core';
import type { ProfileMerge, ProfileMerges } from '../port.ts';
import type { ElasticContext } from './connection.ts';
import { isErrorType, isNotFound, request, storeError } from './errors.ts';
import { assertComplete } from './reader.ts';

/** Most ids of one `_mget` (a larger tick of lookups is split). */
const LOOKUPS_PER_MGET = 1000;

/**
 * Profile merges in their own index, one document per merged profile, `_id` = its id. A
 * merge is written with `op_type: create`, so the first merge of a profile stays whichever
 * replica races it; reads by id are real-time (no refresh needed).
 *
 * `getMerge` is on the API's hot path (once per profile the cache does not know): the
 * lookups one tick asks for leave as one `_mget`, so a busy replica sends Elasticsearch one
 * request per tick instead of one per tracked request, and a profile never merged (the usual
 * answer) costs no 404 error on either side.
 */
export class ElasticMerges implements ProfileMerges {
  private readonly context: ElasticContext;
  private readonly lookups: DataLoader<string, ProfileMerge | undefined>;

  constructor(context: ElasticContext) {
    this.context = context;
    // No memo: every lookup asks the store (the profile cache in front of it memoises).
    this.lookups = new DataLoader<string, ProfileMerge | undefined>((ids) => this.readMany(ids), { cache: false, maxBatchSize: LOOKUPS_PER_MGET });
  }

  async recordMerge(merge: ProfileMerge): Promise<ProfileMerge> {
    const { client, names } = this.context;
    try {
      await client.create({ index: names.profileMerges, id: merge.from, document: merge, refresh: this.context.refresh });
      return merge;
    } catch (error) {
      if (!isErrorType(error, 'version_conflict_engine_exception')) throw storeError(error);
      return (await this.getMerge(merge.from)) ?? merge;
    }
  }

  async removeMerge(from: string, into: string): Promise<void> {
    const { client, names } = this.context;
    const current = await this.read(from);
    if (current?.merge.into !== into) return;
    try {
      await client.delete({ index: names.profileMerges, id: from, if_seq_no: current.seqNo, if_primary_term: current.primaryTerm, refresh: this.context.refresh });
    } catch (error) {
      // Gone or changed meanwhile: nothing of ours to remove.
      if (isNotFound(error) || isErrorType(error, 'version_conflict_engine_exception')) return;
      throw storeError(error);
    }
  }

  async getMerge(id: string): Promise<ProfileMerge | undefined> {
    return this.lookups.load(id);
  }

  /** A search on `into` (sorted by `from`): sees merges recorded up to one refresh ago. */
  async getMergesInto(into: string, limit: number): Promise<ProfileMerge[]> {
    const { client, names } = this.context;
    const response = await request(() => client.search<ProfileMerge>({ index: names.profileMerges, query: { term: { into } }, sort: [{ from: { order: 'asc' } }], size: limit, track_total_hits: false }));
    assertComplete(response);
    return response.hits.hits.flatMap((hit) => (hit._source === undefined ? [] : [hit._source]));
  }

  /** One `_mget` for the lookups of a tick: per id, its merge, undefined (never merged), or its item's failure. */
  private async readMany(ids: readonly string[]): Promise<(ProfileMerge | undefined | Error)[]> {
    const { client, names } = this.context;
    // A few ids: gzip (ELASTIC_COMPRESSION, for bulk writes) would cost more than it saves.
    const response = await request(() => client.mget<ProfileMerge>({ index: names.profileMerges, ids: [...ids] }, { compression: false }));
    return response.docs.map((doc) => {
      // A shard of the index that did not answer (or the index gone): the store's state.
      if ('error' in doc) return new SluiceError('STORE_UNAVAILABLE', `Elasticsearch: ${doc.error.type}: ${doc.error.reason ?? ''}`.slice(0, 1000));
      return doc.found ? doc._source : undefined;
    });
  }

  private async read(id: string): Promise<{ merge: ProfileMerge; seqNo: number; primaryTerm: number } | undefined> {
    try {
      const response = await this.context.client.get<ProfileMerge>({ index: this.context.names.profileMerges, id });
      return response._source === undefined ? undefined : { merge: response._source, seqNo: response._seq_no ?? 0, primaryTerm: response._primary_term ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storeError(error);
    }
  }
}
