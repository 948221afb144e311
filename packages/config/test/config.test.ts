import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { loadConfig, renderConfigurationDoc } from '../src/index.ts';

describe('configuration', () => {
  it('has documented defaults: LOGGING_LEVEL warning, batches of 500, port 8686', () => {
    const config = loadConfig({});
    expect(config.logging.level).toBe('warning');
    expect(config.worker.batchSize).toBe(500);
    expect(config.http.port).toBe(8686);
    expect(config.bus.topics).toEqual({ events: 'events', deadLetters: 'dead-letters' });
  });

  it('listens on loopback unless told otherwise (containers and replicas set HOST=0.0.0.0)', () => {
    expect(loadConfig({}).http.host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).http.host).toBe('0.0.0.0');
  });

  it('reads ELASTIC_HOST as http(s) URLs with valid ports, each checked, credentials never echoed', () => {
    expect(loadConfig({ ELASTIC_HOST: 'https://es-1:9200/, https://es-2:9201' }).elastic.nodes).toEqual(['https://es-1:9200', 'https://es-2:9201']);
    expect(loadConfig({}).elastic.nodes).toEqual(['http://127.0.0.1:9200']);
    expect(() => loadConfig({ ELASTIC_HOST: 'ftp://es-1:9200' })).toThrow(/ELASTIC_HOST: URL 1: a URL starting with http:\/\/ or https:\/\//);
    expect(() => loadConfig({ ELASTIC_HOST: 'https://es-1:9200,not a url' })).toThrow(/ELASTIC_HOST: URL 2: /);
    expect(() => loadConfig({ ELASTIC_HOST: 'http://es-1:99999' })).toThrow(/ELASTIC_HOST: URL 1: /);
    expect(() => loadConfig({ ELASTIC_HOST: 'https://es-1:9200,' })).toThrow(/ELASTIC_HOST: URL 2: empty/);
    let message = '';
    try {
      loadConfig({ ELASTIC_HOST: 'https://elastic:hunter2secret@es-1:9200,gopher://x' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/ELASTIC_HOST: URL 2: /);
    expect(message).not.toContain('hunter2secret');
  });

  it('converts units: seconds to milliseconds where the slice says ms', () => {
    expect(loadConfig({ SOURCE_CACHE_TTL: '3', LIFECYCLE_INTERVAL: '2' })).toMatchObject({ http: { sourceCacheTtlMs: 3000 }, lifecycle: { intervalMs: 2000 } });
  });

  it('reads durations (bare digits in the variable\'s unit) and Elasticsearch sizes', () => {
    const config = loadConfig({ EVENTS_RETENTION: '90', ELASTIC_WARM_AFTER: '30s', ELASTIC_COLD_AFTER: '12h', ELASTIC_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: '512MB', ELASTIC_SNAPSHOT_REPOSITORY: 'backups', ELASTIC_SNAPSHOT_INTERVAL: '3600' });
    expect(config.lifecycle.retentionMs).toBe(90 * 86_400_000);
    expect(config.elasticLifecycle).toMatchObject({ warmAfterMs: 30_000, coldAfterMs: 12 * 3_600_000, deleteAfterMs: 90 * 86_400_000, rollover: { maxPrimaryShardSizeBytes: 512 * 1024 ** 2, maxAgeMs: 7 * 86_400_000 } });
    expect(config.snapshots).toMatchObject({ enabled: true, repository: 'backups', type: 'existing', intervalMs: 3_600_000, keep: 30 });
    expect(() => loadConfig({ ELASTIC_WARM_AFTER: '7 days' })).toThrow(/ELASTIC_WARM_AFTER: a duration/);
    expect(() => loadConfig({ ELASTIC_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: '30' })).toThrow(/a size such as/);
  });

  it('takes PULSAR_MAX_REDELIVER on Pulsar, BUS_MAX_REDELIVER otherwise', () => {
    expect(loadConfig({ BUS_MAX_REDELIVER: '4', PULSAR_MAX_REDELIVER: '7' }).bus.maxRedeliver).toBe(4);
    expect(loadConfig({ BUS_ADAPTER: 'pulsar', BUS_MAX_REDELIVER: '4', PULSAR_MAX_REDELIVER: '7' }).bus.maxRedeliver).toBe(7);
    expect(loadConfig({ BUS_ADAPTER: 'pulsar', BUS_MAX_REDELIVER: '4' }).bus.maxRedeliver).toBe(4);
  });

  it('lists every invalid value at once', () => {
    expect(() => loadConfig({ PORT: 'eighty', STORAGE_BATCH_SIZE: '0', LOGGING_LEVEL: 'loud', BUS_FSYNC: 'maybe' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: expect.arrayContaining([expect.objectContaining({ path: 'PORT' }), expect.objectContaining({ path: 'STORAGE_BATCH_SIZE' }), expect.objectContaining({ path: 'LOGGING_LEVEL' }), expect.objectContaining({ path: 'BUS_FSYNC' })]) }),
    );
  });

  it('never echoes a secret in its error', () => {
    try {
      loadConfig({ ADMIN_TOKEN: 'short' });
      throw new Error('expected a failure');
    } catch (error) {
      expect((error as Error).message).toContain('ADMIN_TOKEN');
      expect((error as Error).message).not.toContain('short"');
      expect((error as Error).message).toContain('value hidden');
    }
  });

  it('checks cross-field rules', () => {
    expect(() => loadConfig({ BUS_TOPIC_EVENTS: 'same', BUS_TOPIC_DEAD_LETTERS: 'same' })).toThrow(/must differ/);
    expect(() => loadConfig({ STORAGE_RETRY_BASE_DELAY: '500', STORAGE_RETRY_MAX_DELAY: '100' })).toThrow(/at least STORAGE_RETRY_BASE_DELAY/);
    expect(() => loadConfig({ STORE_ADAPTER: 'elasticsearch', ELASTIC_WARM_AFTER: '10d', ELASTIC_COLD_AFTER: '5d' })).toThrow(/phases must come in order/);
    expect(() => loadConfig({ STORE_ADAPTER: 'elasticsearch', ELASTIC_COLD_AFTER: '0', EVENTS_RETENTION: '3d' })).toThrow(/phases must come in order/);
    expect(loadConfig({ STORE_ADAPTER: 'elasticsearch', ELASTIC_WARM_AFTER: '0', ELASTIC_COLD_AFTER: '0', EVENTS_RETENTION: '3d' }).elasticLifecycle.deleteAfterMs).toBe(3 * 86_400_000);
    expect(() => loadConfig({ ELASTIC_SNAPSHOT_REPOSITORY: 'backups', ELASTIC_SNAPSHOT_REPOSITORY_TYPE: 'fs' })).toThrow(/ELASTIC_SNAPSHOT_LOCATION: required/);
  });

  it('rejects topic names that could inject a path or pattern', () => {
    expect(() => loadConfig({ BUS_TOPIC_EVENTS: '../etc' })).toThrow(/BUS_TOPIC_EVENTS/);
    expect(() => loadConfig({ BUS_TOPIC_EVENTS: 'a,*' })).toThrow(/BUS_TOPIC_EVENTS/);
  });

  it('is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.worker)).toBe(true);
  });

  it('configures the Redis cache: key prefix per tenant, command timeout, Sentinel', () => {
    const plain = loadConfig({ CACHE_ADAPTER: 'redis', REDIS_HOST: 'rediss://cache:6380/2', REDIS_PASSWORD: 'cache-pw' });
    expect(plain.adapters.cache).toBe('redis');
    expect(plain.cache.keyPrefix).toBe('sluice:cache:');
    expect(plain.redis).toEqual({ url: 'rediss://cache:6380/2', password: 'cache-pw', sentinel: undefined, commandTimeoutMs: 500, commandLingerMs: 0 });
    expect(loadConfig({ TENANT_NAME: 'acme' }).cache.keyPrefix).toBe('acme-sluice:cache:');
    expect(loadConfig({ REDIS_COMMAND_TIMEOUT: '250' }).redis.commandTimeoutMs).toBe(250);
    expect(loadConfig({ REDIS_COMMAND_LINGER: '2' }).redis.commandLingerMs).toBe(2);
    expect(() => loadConfig({ REDIS_COMMAND_LINGER: '51' })).toThrow(/REDIS_COMMAND_LINGER/);

    const sentinel = loadConfig({ REDIS_SENTINELS: 's1:26379, s2:26380,10.0.0.3:26381', REDIS_SENTINEL_MASTER: 'sluice-cache' });
    expect(sentinel.redis.sentinel).toEqual({ masterName: 'sluice-cache', sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: '10.0.0.3', port: 26381 }] });
    expect(() => loadConfig({ REDIS_SENTINELS: 's1:26379' })).toThrow(/set REDIS_SENTINELS and REDIS_SENTINEL_MASTER together/);
    expect(() => loadConfig({ REDIS_SENTINEL_MASTER: 'm' })).toThrow(/set REDIS_SENTINELS and REDIS_SENTINEL_MASTER together/);
    expect(() => loadConfig({ REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'm' })).toThrow(/REDIS_SENTINELS: comma-separated host:port/);
    expect(() => loadConfig({ REDIS_SENTINELS: 's1:70000', REDIS_SENTINEL_MASTER: 'm' })).toThrow(/REDIS_SENTINELS: ports between 1 and 65535/);
    expect(() => loadConfig({ CACHE_ADAPTER: 'memcached' })).toThrow(/CACHE_ADAPTER/);
  });

  it('gives the jobs REDIS_HOST and REDIS_PASSWORD unless JOBS_REDIS_HOST and JOBS_REDIS_PASSWORD say otherwise', () => {
    expect(loadConfig({ REDIS_HOST: 'redis://shared:6379', REDIS_PASSWORD: 'pw' }).jobs.redis).toEqual({ url: 'redis://shared:6379', password: 'pw' });
    expect(loadConfig({ REDIS_HOST: 'redis://cache:6379', REDIS_PASSWORD: 'pw', JOBS_REDIS_HOST: 'redis://jobs:6379/1' }).jobs.redis).toEqual({ url: 'redis://jobs:6379/1', password: 'pw' });
    expect(loadConfig({ REDIS_PASSWORD: 'pw', JOBS_REDIS_HOST: 'redis://jobs:6379', JOBS_REDIS_PASSWORD: 'jobs-pw' }).jobs.redis.password).toBe('jobs-pw');
    expect(() => loadConfig({ JOBS_REDIS_HOST: 'http://jobs:6379' })).toThrow(/JOBS_REDIS_HOST/);
  });

  it('keeps docs/configuration.md in sync with the specs (run `npm run docs:config`)', () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(renderConfigurationDoc());
  });
});
