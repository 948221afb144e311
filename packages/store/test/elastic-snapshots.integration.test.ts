// Snapshots on the real secured node (the minimal distribution has no SLM, so Sluice's job
// takes them) into an `fs` repository, pruned to the configured count, and the documented
// restore brings deleted events back.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { TrackedEvent } from '@sluice/core';
import { engineEnv, randomName } from '@sluice/testkit';
import { Client } from '@elastic/elasticsearch';
import { readFileSync } from 'node:fs';
import { ElasticStore } from '../src/index.ts';
import { eventsOnly } from '../src/conformance.ts';

const es = engineEnv('elasticsearch');
const tenant = randomName('snap');
const repository = randomName('repo');
const connection = { nodes: [es['ELASTIC_HOST']!], username: es['ELASTIC_HTTP_AUTH_USERNAME']!, password: es['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: es['ELASTIC_CA_FILE']! };
const store = new ElasticStore({
  ...connection, verifyCerts: true, maxConnections: 2, requestTimeoutMs: 30_000, compression: true, prefix: `${tenant}-`, shards: 1, replicas: 0, refreshInterval: '1s', refreshOnWrite: true,
  snapshots: { repository, type: 'fs', location: `${es['ELASTIC_SNAPSHOT_PATH']!}/${repository}`, intervalMs: 3_600_000, keep: 2 },
});
// The operator's view: a plain client, as in docs/elasticsearch.md's restore steps.
const admin = new Client({ node: connection.nodes[0]!, auth: { username: connection.username, password: connection.password }, tls: { ca: readFileSync(connection.caFile) } });

afterAll(async () => {
  await store.dropAll();
  await store.close();
  await admin.snapshot.deleteRepository({ name: repository }).catch(() => undefined);
  await admin.close();
});

const event = (id: string): TrackedEvent => ({
  id, type: 'purchase', sourceId: 'web', sessionId: 's1', profileId: 'p-snap', time: new Date().toISOString(), receivedAt: new Date().toISOString(), properties: { order: randomUUID() }, context: {}, tags: [], metadata: {},
});

describe('Elasticsearch snapshots', () => {
  it('registers the fs repository, snapshots Sluice\'s indices, keeps the newest two, and restores deleted events', async () => {
    const done = await store.provision();
    expect(done).toContain(`snapshot repository ${repository} (fs ${es['ELASTIC_SNAPSHOT_PATH']!}/${repository})`);
    expect(done.some((line) => line.startsWith('SLM policy'))).toBe(false); // no SLM here: Sluice's job
    await store.writeBatch(eventsOnly([event('snap-1'), event('snap-2')]));

    const first = await store.snapshot(new Date(Date.now() - 2000));
    expect(first.actions[0]).toMatch(new RegExp(`^snapshot ${tenant}-sluice-\\S+: SUCCESS \\(\\d+ shards\\)$`));
    await store.snapshot(new Date(Date.now() - 1000));
    const third = await store.snapshot(new Date());
    expect(third.actions[1]).toMatch(/^deleted snapshots /);
    const kept = await admin.snapshot.get({ repository, snapshot: '*' });
    expect(kept.snapshots?.map((snapshot) => snapshot.state)).toEqual(['SUCCESS', 'SUCCESS']);
    const latest = kept.snapshots?.map((snapshot) => snapshot.snapshot).sort().at(-1) ?? '';

    // Disaster: the events index is gone. Restore (docs/elasticsearch.md): the events indices
    // and their write alias from the latest snapshot.
    const indices = Object.keys(await admin.indices.get({ index: `${tenant}-sluice-events-*` }));
    await admin.indices.delete({ index: indices });
    expect(await store.getEvent('web', 'snap-1')).toBeUndefined();
    await admin.snapshot.restore({ repository, snapshot: latest, indices: `${tenant}-sluice-events-*`, include_aliases: true, wait_for_completion: true });
    expect(await store.getEvent('web', 'snap-1')).toMatchObject({ id: 'snap-1' });
    expect(await store.writeBatch(eventsOnly([event('snap-3')]))).toEqual([{ status: 'created' }]);
  });
});
