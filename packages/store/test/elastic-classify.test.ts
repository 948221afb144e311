import { describe, expect, it } from '@jest/globals';
import { classify } from '../src/index.ts';

const item = (status: number, error?: { type: string; reason: string }) => ({ _index: 'i', _id: 'x', status, ...(error ? { error } : {}) });

describe('bulk item classification', () => {
  it('maps Elasticsearch item statuses to write outcomes', () => {
    expect(classify(item(201))).toEqual({ status: 'created' });
    expect(classify(item(409, { type: 'version_conflict_engine_exception', reason: 'document already exists' }))).toEqual({ status: 'exists' });
    expect(classify(item(429, { type: 'es_rejected_execution_exception', reason: 'queue full' }))).toMatchObject({ status: 'retryable', code: 'STORE_UNAVAILABLE' });
    expect(classify(item(503, { type: 'unavailable_shards_exception', reason: 'primary shard is not active' }))).toMatchObject({ status: 'retryable' });
    expect(classify(item(400, { type: 'document_parsing_exception', reason: 'failed to parse field [time]' }))).toEqual({
      status: 'rejected', code: 'STORE_REJECTED', reason: 'document_parsing_exception: failed to parse field [time]',
    });
    expect(classify(item(404, { type: 'index_not_found_exception', reason: 'no such index' }))).toMatchObject({ status: 'rejected' });
    expect(classify(undefined)).toMatchObject({ status: 'retryable' });
  });
});
