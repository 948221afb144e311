// "Every accepted event is stored exactly once", checked on Elasticsearch itself: once the
// storage subscription has no backlog, every event document of the run is listed by id
// (a composite aggregation, page by page), and compared with the ids the API accepted.
import { elasticAsSuperuser, waitFor } from '@sluice/testkit';
import { storageBacklog } from './measure.ts';

export interface StoredOnce {
  /** Event documents of the run. */
  readonly stored: number;
  /** Accepted events without a document. */
  readonly lost: number;
  /** Documents beyond the first of an id. */
  readonly duplicated: number;
  /**
   * Stored events whose request the load generator did not see accepted (it timed out or
   * failed while Sluice took it): allowed, as a client would resend them with the same ids.
   */
  readonly unconfirmed: number;
}

interface CompositePage {
  aggregations?: { ids?: { after_key?: { id: string }; buckets: { key: { id: string }; doc_count: number }[] } };
}

/** Waits until the storage subscription of `namespace` has no backlog (or `timeoutMs`). */
export async function waitForDrain(namespace: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await storageBacklog(namespace).catch(() => -1)) === 0, timeoutMs, () => `the storage workers did not drain namespace ${namespace} within ${String(timeoutMs)} ms`);
}

/** Compares the run's event documents under `indexPrefix` with the `accepted` ids. */
export async function storedOnce(indexPrefix: string, accepted: ReadonlySet<string>): Promise<StoredOnce> {
  const pattern = `${indexPrefix}sluice-events*`;
  await elasticAsSuperuser('POST', `/${pattern}/_refresh`);
  const seen = new Set<string>();
  let stored = 0;
  let duplicated = 0;
  let unconfirmed = 0;
  let after: { id: string } | undefined;
  for (;;) {
    const page = (await elasticAsSuperuser('POST', `/${pattern}/_search`, {
      size: 0,
      aggs: { ids: { composite: { size: 10_000, sources: [{ id: { terms: { field: 'id' } } }], ...(after === undefined ? {} : { after }) } } },
    })) as CompositePage;
    const buckets = page.aggregations?.ids?.buckets ?? [];
    for (const bucket of buckets) {
      stored += bucket.doc_count;
      duplicated += bucket.doc_count - 1;
      seen.add(bucket.key.id);
      if (!accepted.has(bucket.key.id)) unconfirmed += 1;
    }
    after = page.aggregations?.ids?.after_key;
    if (buckets.length === 0 || after === undefined) break;
  }
  let lost = 0;
  for (const id of accepted) if (!seen.has(id)) lost += 1;
  return { stored, lost, duplicated, unconfirmed };
}
