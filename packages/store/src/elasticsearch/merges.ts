import type { ProfileMerge, ProfileMerges } from '../port.ts';
import type { ElasticContext } from './connection.ts';
import { isErrorType, isNotFound, request, storeError } from './errors.ts';
import { assertComplete } from './reader.ts';

/**
 * Profile merges in their own index, one document per merged profile, `_id` = its id. A
 * merge is written with `op_type: create`, so the first merge of a profile stays whichever
 * replica races it; reads are GETs by id, which are real-time (no refresh needed).
 */
export class ElasticMerges implements ProfileMerges {
  private readonly context: ElasticContext;

  constructor(context: ElasticContext) {
    this.context = context;
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
    return (await this.read(id))?.merge;
  }

  /** A search on `into` (sorted by `from`): sees merges recorded up to one refresh ago. */
  async getMergesInto(into: string, limit: number): Promise<ProfileMerge[]> {
    const { client, names } = this.context;
    const response = await request(() => client.search<ProfileMerge>({ index: names.profileMerges, query: { term: { into } }, sort: [{ from: { order: 'asc' } }], size: limit, track_total_hits: false }));
    assertComplete(response);
    return response.hits.hits.flatMap((hit) => (hit._source === undefined ? [] : [hit._source]));
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
