import { describe, expect, it } from '@jest/globals';
import type { estypes } from '@elastic/elasticsearch';
import { loadConfig } from '@sluice/config';
import { TIER_PREFERENCE, esBytes, esTime, ilmPolicy, nextIndexName, planLifecycle, slmPolicy, slmSchedule, type EventsIndexState, type LifecycleSettings } from '../src/index.ts';

const DAY = 86_400_000;
const fromEnv = (env: Record<string, string>): LifecycleSettings => loadConfig({ STORE_ADAPTER: 'elasticsearch', ...env }).elasticLifecycle;

describe('Elasticsearch lifecycle: ILM policy', () => {
  it('renders every threshold from the environment', () => {
    const policy: estypes.IlmPolicy = ilmPolicy(fromEnv({ ELASTIC_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: '50gb', ELASTIC_ROLLOVER_MAX_AGE: '1d', ELASTIC_ROLLOVER_MAX_DOCS: '1000', ELASTIC_WARM_AFTER: '2d', ELASTIC_COLD_AFTER: '30d', EVENTS_RETENTION: '365', ELASTIC_FORCEMERGE_SEGMENTS: '2' }));
    expect(policy.phases).toEqual({
      hot: { min_age: '0ms', actions: { rollover: { max_age: '1d', max_docs: 1000, max_primary_shard_size: '50gb' }, set_priority: { priority: 100 } } },
      warm: { min_age: '2d', actions: { readonly: {}, set_priority: { priority: 50 }, forcemerge: { max_num_segments: 2 } } },
      cold: { min_age: '30d', actions: { readonly: {}, set_priority: { priority: 0 } } },
      delete: { min_age: '365d', actions: { delete: {} } },
    });
  });

  it('leaves out the phases set to 0, and forcemerge at 0 segments', () => {
    const policy = ilmPolicy(fromEnv({ ELASTIC_WARM_AFTER: '0', ELASTIC_COLD_AFTER: '0', ELASTIC_FORCEMERGE_SEGMENTS: '0' }));
    expect(Object.keys(policy.phases)).toEqual(['hot']);
    expect(ilmPolicy(fromEnv({ ELASTIC_FORCEMERGE_SEGMENTS: '0' })).phases.warm?.actions).toEqual({ readonly: {}, set_priority: { priority: 50 } });
  });

  it('writes times and sizes in the largest exact unit', () => {
    expect([esTime(0), esTime(1500), esTime(30_000), esTime(90 * 60_000), esTime(7 * DAY)]).toEqual(['0ms', '1500ms', '30s', '90m', '7d']);
    expect([esBytes(100), esBytes(512 * 1024 ** 2), esBytes(30 * 1024 ** 3), esBytes(1536)]).toEqual(['100b', '512mb', '30gb', '1536b']);
  });
});

describe('Elasticsearch lifecycle: Sluice\'s own pass', () => {
  const settings = fromEnv({ ELASTIC_WARM_AFTER: '1d', ELASTIC_COLD_AFTER: '7d', EVENTS_RETENTION: '30' });
  const now = 100 * DAY;
  const index = (generation: number, createdDaysAgo: number, extra: Partial<EventsIndexState> = {}): EventsIndexState => ({
    name: `t-sluice-events-${String(generation).padStart(6, '0')}`, createdAt: now - createdDaysAgo * DAY, isWriteIndex: false, tierPreference: undefined, writeBlocked: false, ...extra,
  });

  it('names the next generation', () => {
    expect(nextIndexName('a-sluice-events-000001')).toBe('a-sluice-events-000002');
    expect(nextIndexName('a-sluice-events-999999')).toBe('a-sluice-events-1000000');
    expect(() => nextIndexName('a-sluice-events')).toThrow(/generation/);
  });

  it('offers the write index a rollover and moves each older index by the time since its rollover', () => {
    const indices = [
      index(1, 60), // rolled over 40 days ago (index 2 was created then): delete
      index(2, 40, { tierPreference: TIER_PREFERENCE.warm }), // rolled over 10 days ago: cold
      index(3, 10), // rolled over 2 days ago: warm
      index(4, 2), // rolled over 12 hours ago: stays hot
      index(5, 0.5, { isWriteIndex: true }),
    ];
    expect(planLifecycle(indices.reverse(), now, settings)).toEqual([
      { kind: 'delete', index: 't-sluice-events-000001' },
      { kind: 'cold', index: 't-sluice-events-000002' },
      { kind: 'warm', index: 't-sluice-events-000003' },
      { kind: 'rollover', index: 't-sluice-events-000005', next: 't-sluice-events-000006' },
    ]);
  });

  it('does nothing twice: an index already in its phase is left alone', () => {
    const indices = [index(1, 20, { tierPreference: TIER_PREFERENCE.cold, writeBlocked: true }), index(2, 10, { tierPreference: TIER_PREFERENCE.cold }), index(3, 1, { isWriteIndex: true })];
    expect(planLifecycle(indices, now, settings)).toEqual([{ kind: 'rollover', index: 't-sluice-events-000003', next: 't-sluice-events-000004' }]);
  });

  it('keeps everything when retention is 0 and skips phases set to 0', () => {
    const keep = fromEnv({ ELASTIC_WARM_AFTER: '0', ELASTIC_COLD_AFTER: '2d', EVENTS_RETENTION: '0' });
    const indices = [index(1, 400), index(2, 399), index(3, 1.5), index(4, 1, { isWriteIndex: true })];
    expect(planLifecycle(indices, now, keep).map((action) => `${action.kind} ${action.index}`)).toEqual(['cold t-sluice-events-000001', 'rollover t-sluice-events-000004']);
  });
});

describe('Elasticsearch snapshots: SLM policy', () => {
  it('schedules from ELASTIC_SNAPSHOT_INTERVAL and keeps ELASTIC_SNAPSHOT_KEEP', () => {
    expect([slmSchedule(15 * 60_000), slmSchedule(6 * 3_600_000), slmSchedule(DAY)]).toEqual(['0 0/15 * * * ?', '0 0 0/6 * * ?', '0 30 1 * * ?']);
    const config = loadConfig({ STORE_ADAPTER: 'elasticsearch', ELASTIC_SNAPSHOT_REPOSITORY: 'backups', ELASTIC_SNAPSHOT_KEEP: '7' }).snapshots;
    if (!config.enabled) throw new Error('snapshots should be on');
    const policy: estypes.SlmPutLifecycleRequest = slmPolicy({ snapshotPolicy: 't-sluice-snapshots', snapshotPrefix: 't-sluice-', allIndices: 't-sluice-*' }, config);
    expect(policy).toEqual({
      policy_id: 't-sluice-snapshots', schedule: '0 30 1 * * ?', name: '<t-sluice-{now/d}-{now{HHmmss}}>', repository: 'backups',
      config: { indices: ['t-sluice-*'], include_global_state: false }, retention: { min_count: 1, max_count: 7, expire_after: '8d' },
    });
  });
});
