// Sluice's own lifecycle on the real 3-node tiered cluster (hot, warm, cold; no ILM in this
// distribution), with tiny thresholds: rollover, the move to the warm node, then to the cold
// node, then deletion.
import { afterAll, describe, expect, it } from '@jest/globals';
import type { TrackedEvent } from '@sluice/core';
import { engineEnv, randomName, waitFor } from '@sluice/testkit';
import { ElasticStore, TIER_PREFERENCE } from '../src/index.ts';
import { eventsOnly } from '../src/conformance.ts';

const base = engineEnv('elasticsearch-cluster')['ELASTIC_HOST']!.split(',');
const es = async <T>(path: string): Promise<{ status: number; body: T }> => {
  const response = await fetch(`${base[0]!}${path}`);
  return { status: response.status, body: (await response.json()) as T };
};

const event = (id: string): TrackedEvent => (({
  id, type: 'page-view', sourceId: 'web', sessionId: 's1', profileId: 'p1', time: new Date().toISOString(), receivedAt: new Date().toISOString(), properties: {}, context: {}, tags: [], metadata: {},
}));

const tenant = randomName('life');
const options = {
  nodes: base, verifyCerts: true, maxConnections: 4, requestTimeoutMs: 30_000, compression: true, prefix: `${tenant}-`, shards: 1, replicas: 0, refreshInterval: '1s', refreshOnWrite: true,
  lifecycle: { mode: 'auto', rollover: { maxPrimaryShardSizeBytes: 50 * 1024 ** 3, maxAgeMs: 86_400_000, maxDocs: 1 }, warmAfterMs: 8000, coldAfterMs: 12_000, deleteAfterMs: 16_000, forcemergeSegments: 1 },
} as const;
const store = new ElasticStore(options);

afterAll(async () => {
  await store.dropAll();
  await store.close();
});

const index = (generation: number) => `${tenant}-sluice-events-${String(generation).padStart(6, '0')}`;
const nodesOf = async (name: string) => ((await es<{ node: string | null; state: string }[]>(`/_cat/shards/${name}?format=json&h=node,state`)).body);

describe('Sluice lifecycle on the tiered cluster', () => {
  it('rolls over, moves indices to the warm then the cold node, and deletes them after the retention', async () => {
    const done = await store.provision();
    expect(done).toContain(`index template ${tenant}-sluice-events (lifecycle: sluice)`);

    // life-0 was received before index 1 existed: the store checks older generations (there
    // are none) and keeps the list of generations it read.
    expect(await store.writeBatch(eventsOnly([event('life-1'), { ...event('life-0'), receivedAt: new Date(Date.now() - 86_400_000).toISOString() }]))).toEqual([{ status: 'created' }, { status: 'created' }]);
    // Taken before the pass: index 2 (whose creation time is index 1's rollover time) is younger.
    const rolledAt = Date.now();
    // Rolled over by another replica: this store's list of generations is now out of date.
    const other = new ElasticStore(options);
    expect((await other.maintain(new Date())).actions).toEqual([`rolled ${index(1)} over to ${index(2)}`]);
    await other.close();
    // A redelivery of life-1 after the rollover (elastic/elasticsearch#44794): found in the
    // older index, so it is "exists", and the events indices still hold it once.
    const again = { ...event('life-1'), receivedAt: new Date(Date.now() - 60_000).toISOString() };
    expect(await store.writeBatch(eventsOnly([again, event('life-1b')]))).toEqual([{ status: 'exists' }, { status: 'created' }]);
    expect((await es<{ count: number }>(`/${tenant}-sluice-events-*/_count?q=id:life-1`)).body.count).toBe(1);
    await store.writeBatch(eventsOnly([event('life-2')]));
    // Two replicas' passes at once (the in-process scheduler on several workers): one rollover.
    const replica = new ElasticStore(options);
    const passes = await Promise.all([store.maintain(new Date()), replica.maintain(new Date())]);
    await replica.close();
    expect(passes.flatMap((pass) => pass.actions)).toEqual([`rolled ${index(2)} over to ${index(3)}`]);
    // Nothing to roll over in an empty write index; a second pass at once changes nothing.
    expect((await store.maintain(new Date())).actions).toEqual([]);

    // Warm: the first index (rolled over when index 2 was created) moves to the warm node, read-only.
    await waitFor(async () => (await store.maintain(new Date())).actions.includes(`moved ${index(1)} to warm (force-merge to 1 segments started)`), 15_000, () => 'no warm move');
    expect(Date.now() - rolledAt).toBeGreaterThanOrEqual(8000);
    const settings = await es<Record<string, { settings: Record<string, string> }>>(`/${index(1)}/_settings?flat_settings=true`);
    expect(settings.body[index(1)]?.settings).toMatchObject({ 'index.blocks.write': 'true', 'index.routing.allocation.include._tier_preference': TIER_PREFERENCE.warm });
    await waitFor(async () => (await nodesOf(index(1))).every((shard) => shard.node === 'warm' && shard.state === 'STARTED'), 30_000, () => `${index(1)} is not on the warm node`);
    // The write index stays on the content (hot and warm) nodes; the event is still readable.
    expect(await store.getEvent('web', 'life-1')).toMatchObject({ id: 'life-1' });

    // Cold, then deleted after the retention; the younger index follows on its own clock.
    await waitFor(async () => {
      await store.maintain(new Date());
      return (await nodesOf(index(1))).every((shard) => shard.node === 'cold' && shard.state === 'STARTED');
    }, 30_000, () => `${index(1)} is not on the cold node`);
    await waitFor(async () => {
      await store.maintain(new Date());
      return (await es(`/${index(1)}`)).status === 404;
    }, 30_000, () => `${index(1)} was not deleted`);
    expect(await store.getEvent('web', 'life-1')).toBeUndefined();
    expect(await store.getEvent('web', 'life-2')).toMatchObject({ id: 'life-2' });
    expect((await es(`/${index(3)}`)).status).toBe(200);
    // An event received long before the write index existed, but never written: created once.
    expect(await store.writeBatch(eventsOnly([{ ...event('late-1'), receivedAt: new Date(Date.now() - 60_000).toISOString() }]))).toEqual([{ status: 'created' }]);
  });
});
