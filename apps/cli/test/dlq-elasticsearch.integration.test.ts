// The poison-request story on the production path (Pulsar + Elasticsearch): an index created
// by an older build (flattened `depth_limit` 20) refuses an event the API accepted; that
// event is dead-lettered with Elasticsearch's reason while its neighbour and the canaries
// are stored; `sluice init` of this build brings the live index up to date, and
// `sluice dlq replay` brings the event back, stored once.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ListReport } from '@sluice/jobs-app';
import { REPO_ROOT, elasticAsSuperuser, engineEnv, randomName, startSluice, tempDir, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'dlq-es-test-admin-token-123';
const es = engineEnv('elasticsearch');
const pulsar = engineEnv('pulsar');

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});


async function sluiceCommand(env: Record<string, string>, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['apps/cli/src/bin.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
  return stdout;
}

async function readEvent(sluice: SluiceProcess, id: string): Promise<{ id: string; properties: Record<string, unknown> } | undefined> {
  const response = await fetch(`${sluice.url}/v1/sources/demo/events/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return response.ok ? ((await response.json()) as { id: string; properties: Record<string, unknown> }) : undefined;
}

const nested = (depth: number): unknown => JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

describe('a refused event on Pulsar and Elasticsearch', () => {
  it('is dead-lettered with its reason, its neighbours stored, and replayed once `sluice init` fixed the cause', async () => {
    const { dir, cleanup } = await tempDir('sluice-dlq-es-');
    const tenant = randomName('dlqes');
    const namespace = randomName('dlqes-');
    cleanups.push(cleanup, async () => {
      await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' });
      const indices = (await elasticAsSuperuser('GET', `/_cat/indices/${tenant}-sluice-*?format=json`)) as { index: string }[];
      if (indices.length > 0) await elasticAsSuperuser('DELETE', `/${indices.map((index) => index.index).join(',')}`);
      await elasticAsSuperuser('DELETE', `/_index_template/${tenant}-sluice-events`);
    });
    const env = {
      DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100', ELASTIC_REFRESH_INTERVAL: '100ms',
      BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: pulsar['PULSAR_WEB_HOST']!, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '1',
      STORE_ADAPTER: 'elasticsearch', ...es, TENANT_NAME: tenant, ELASTIC_INDEX_SHARDS: '1', ELASTIC_INDEX_REPLICAS: '0',
    };
    const sluice = await startSluice('start', env, 90_000);
    cleanups.push(async () => void (await sluice.stop()));
    // The live events index as an older build created it: Elasticsearch's default depth limit.
    await elasticAsSuperuser('PUT', `/${tenant}-sluice-events/_mapping`, { properties: { properties: { type: 'flattened', depth_limit: 20 } } });

    const post = (events: unknown[]) => fetch(`${sluice.url}/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: { id: 'demo' }, profile: { id: 'deep-profile' }, events }) });
    expect((await post([{ id: 'deep-1', type: 'a', properties: nested(25) }, { id: 'neighbour-1', type: 'a', properties: { ok: true } }])).status).toBe(200);
    expect((await post([{ id: 'canary-1', type: 'canary' }])).status).toBe(200);
    await waitFor(async () => (await readEvent(sluice, 'neighbour-1')) !== undefined && (await readEvent(sluice, 'canary-1')) !== undefined, 20_000, () => 'the neighbour and the canary were not stored');

    let letters: ListReport['letters'] = [];
    await waitFor(async () => {
      letters = (JSON.parse(await sluiceCommand(env, 'dlq', 'list', '--json', '--idle', '1000')) as ListReport).letters;
      return letters.length > 0;
    }, 20_000, () => 'no dead letter');
    expect(letters).toEqual([expect.objectContaining({ kind: 'event', code: 'STORE_REJECTED', reason: expect.stringMatching(/depth|failed to parse/) })]);
    expect(await readEvent(sluice, 'deep-1')).toBeUndefined();

    // The operator upgrades the live index, then replays.
    expect(await sluiceCommand(env, 'init')).toMatch(/mapping/i);
    await sluiceCommand(env, 'dlq', 'replay', '--code', 'STORE_REJECTED', '--idle', '1000');
    await waitFor(async () => (await readEvent(sluice, 'deep-1')) !== undefined, 20_000, () => 'the replayed event was not stored');
    expect((await readEvent(sluice, 'deep-1'))?.properties).toEqual(nested(25));
    expect((JSON.parse(await sluiceCommand(env, 'dlq', 'list', '--json', '--idle', '1000')) as ListReport).letters).toEqual([]);
    const canary = await post([{ id: 'canary-2', type: 'canary' }]);
    expect(canary.status).toBe(200);
    await waitFor(async () => (await readEvent(sluice, 'canary-2')) !== undefined, 20_000);
  }, 240_000);
});
