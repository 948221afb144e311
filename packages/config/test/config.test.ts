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

  it('converts units: seconds to milliseconds where the slice says ms', () => {
    expect(loadConfig({ SOURCE_CACHE_TTL: '3', LIFECYCLE_INTERVAL: '2' })).toMatchObject({ http: { sourceCacheTtlMs: 3000 }, lifecycle: { intervalMs: 2000 } });
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

  it('keeps docs/configuration.md in sync with the specs (run `npm run docs:config`)', () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(renderConfigurationDoc());
  });
});
