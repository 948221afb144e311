// `sluice init`'s store side on the real, secured node, as the init role
// (deploy/elasticsearch/roles.yml): what replicas check for, and how an upgrade's mappings
// reach indices that exist already. npm run engines:up -- elasticsearch.
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ElasticStore, type ElasticStoreOptions } from '../src/index.ts';
import { engineEnv, randomName } from '@sluice/testkit';

const env = engineEnv('elasticsearch');

const storeAs = (user: string, prefix: string): ElasticStore => new ElasticStore({
  nodes: env['ELASTIC_HOST']!.split(','), username: user, password: env['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: env['ELASTIC_CA_FILE']!,
  verifyCerts: true, maxConnections: 2, requestTimeoutMs: 30_000, compression: false, prefix, shards: 1, replicas: 0, refreshInterval: '1s',
} satisfies ElasticStoreOptions);

/** The operator's view: a plain client as the superuser. */
const admin = new Client({ node: env['ELASTIC_HOST']!.split(',')[0]!, auth: { username: env['ELASTIC_HTTP_AUTH_USERNAME']!, password: env['ELASTIC_HTTP_AUTH_PASSWORD']! }, tls: { ca: readFileSync(env['ELASTIC_CA_FILE']!) } });

let prefixes: string[] = [];
afterEach(async () => {
  for (const prefix of prefixes) {
    const store = storeAs(env['ELASTIC_HTTP_AUTH_USERNAME']!, prefix);
    await store.dropAll();
    await store.close();
  }
  prefixes = [];
});

function newPrefix(label: string): string {
  const prefix = `${randomName(label)}-`;
  prefixes.push(prefix);
  return prefix;
}

describe('provisioning on Elasticsearch', () => {
  it('tells replicas what init has not created yet, with a reader\'s privileges', async () => {
    const prefix = newPrefix('unprov');
    const reader = storeAs(env['SLUICE_READER_USERNAME']!, prefix);
    const init = storeAs(env['SLUICE_INIT_USERNAME']!, prefix);
    try {
      expect(await reader.unprovisioned()).toEqual([`the events write alias ${prefix}sluice-events`, `the index ${prefix}sluice-profiles`, `the index ${prefix}sluice-sessions`, `the index ${prefix}sluice-profile-merges`]);
      await init.provision();
      expect(await reader.unprovisioned()).toEqual([]);
    } finally {
      await reader.close();
      await init.close();
    }
  });

  it('puts the current mappings on existing indices: a new field and a raised depth_limit reach the live write index; nothing when up to date', async () => {
    const prefix = newPrefix('upgrade');
    // An older release's indices: no `tags` field, flattened depth_limit 20, profiles without lastSourceId.
    await admin.indices.create({
      index: `${prefix}sluice-events-000001`,
      aliases: { [`${prefix}sluice-events`]: { is_write_index: true } },
      mappings: { dynamic: 'strict', properties: { id: { type: 'keyword' }, properties: { type: 'flattened', depth_limit: 20 } } },
    });
    await admin.indices.create({ index: `${prefix}sluice-profiles`, mappings: { dynamic: 'strict', properties: { id: { type: 'keyword' }, version: { type: 'long' } } } });
    await admin.indices.create({ index: `${prefix}sluice-sessions` });
    const init = storeAs(env['SLUICE_INIT_USERNAME']!, prefix);
    try {
      const done = await init.provision();
      expect(done).toEqual(expect.arrayContaining([`mappings of ${prefix}sluice-events updated`, `mappings of ${prefix}sluice-profiles updated`, `mappings of ${prefix}sluice-sessions updated`]));
      const events = (await admin.indices.getMapping({ index: `${prefix}sluice-events-000001` }))[`${prefix}sluice-events-000001`]!.mappings;
      expect(events.properties?.['tags']).toEqual({ type: 'keyword' });
      expect(events.properties?.['properties']).toMatchObject({ type: 'flattened', depth_limit: 64 });
      const profiles = (await admin.indices.getMapping({ index: `${prefix}sluice-profiles` }))[`${prefix}sluice-profiles`]!.mappings;
      expect(profiles.properties?.['lastSourceId']).toEqual({ type: 'keyword' });
      // A document 30 levels deep now indexes (depth_limit 20 refused it).
      let deep: Record<string, unknown> = { leaf: 'x' };
      for (let level = 0; level < 30; level += 1) deep = { nested: deep };
      await admin.index({ index: `${prefix}sluice-events`, id: 'deep', document: { id: 'deep', properties: deep } });
      // Up to date: no mapping line again.
      expect((await init.provision()).filter((line) => line.startsWith('mappings of'))).toEqual([]);
    } finally {
      await init.close();
    }
  });

  it('refuses a mapping change Elasticsearch cannot make in place, naming the field', async () => {
    const prefix = newPrefix('conflict');
    // `version` mapped as a keyword by someone else: Sluice's long cannot replace it in place.
    await admin.indices.create({ index: `${prefix}sluice-profiles`, mappings: { properties: { version: { type: 'keyword' } } } });
    const init = storeAs(env['SLUICE_INIT_USERNAME']!, prefix);
    try {
      const failure = await init.provision().then(() => undefined, (error: unknown) => error as { code?: string; message?: string; retryable?: boolean });
      expect(failure).toMatchObject({ code: 'STORE_REJECTED', retryable: false });
      expect(failure?.message).toContain(`${prefix}sluice-profiles`);
      expect(failure?.message).toMatch(/\[version\]/);
    } finally {
      await init.close();
    }
  });
});
