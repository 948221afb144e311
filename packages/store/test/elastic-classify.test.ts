import { describe, expect, it } from '@jest/globals';
import { errors } from '@elastic/elasticsearch';
import { classifyItem, storeError } from '../src/index.ts';

const item = (status: number, error?: { type: string; reason: string }) => ({ _index: 'i', _id: 'x', status, ...(error ? { error } : {}) });
const response = (statusCode: number, type: string) => new errors.ResponseError({ body: { error: { type, reason: 'r' }, status: statusCode }, statusCode, headers: {}, warnings: null, meta: {} as never });

describe('Elasticsearch error classification (one rule for bulk items and whole requests)', () => {
  it('maps bulk item statuses to write outcomes', () => {
    expect(classifyItem(item(201))).toEqual({ status: 'created' });
    expect(classifyItem(item(409, { type: 'version_conflict_engine_exception', reason: 'document already exists' }))).toEqual({ status: 'exists' });
    expect(classifyItem(item(429, { type: 'es_rejected_execution_exception', reason: 'queue full' }))).toMatchObject({ status: 'retryable', code: 'STORE_UNAVAILABLE' });
    expect(classifyItem(item(503, { type: 'unavailable_shards_exception', reason: 'primary shard is not active' }))).toMatchObject({ status: 'retryable' });
    expect(classifyItem(item(403, { type: 'cluster_block_exception', reason: 'index read-only' }))).toMatchObject({ status: 'retryable' });
    expect(classifyItem(item(404, { type: 'index_not_found_exception', reason: 'no such index' }))).toMatchObject({ status: 'retryable' });
    expect(classifyItem(item(400, { type: 'document_parsing_exception', reason: 'failed to parse field [time]' }))).toEqual({
      status: 'rejected', code: 'STORE_REJECTED', reason: 'document_parsing_exception: failed to parse field [time]',
    });
    expect(classifyItem(item(400, { type: 'illegal_argument_exception', reason: 'too deep' }))).toMatchObject({ status: 'rejected' });
    expect(classifyItem(undefined)).toMatchObject({ status: 'retryable' });
  });

  it('classifies client errors: no answer, timeouts, overload and 5xx retryable; a bad request, a serialisation failure and the unknown permanent', () => {
    const retryable = [new errors.ConnectionError('ECONNREFUSED'), new errors.TimeoutError('Request timed out'), new errors.NoLivingConnectionsError('none', {} as never), response(429, 'es_rejected_execution_exception'), response(502, 'bad_gateway'), response(401, 'security_exception'), response(404, 'index_not_found_exception')];
    for (const error of retryable) expect(storeError(error)).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    const permanent = [response(400, 'mapper_parsing_exception'), response(413, 'request_entity_too_large'), response(404, 'resource_not_found_exception'), new errors.SerializationError('cannot serialise', {}), new RangeError('Maximum call stack size exceeded'), new Error('something else')];
    for (const error of permanent) expect(storeError(error)).toMatchObject({ code: 'STORE_REJECTED', retryable: false });
    expect(storeError(response(400, 'mapper_parsing_exception')).message).toContain('HTTP 400 mapper_parsing_exception');
  });
});
