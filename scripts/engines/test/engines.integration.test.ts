// Smoke tests: each engine that `npm run engines:up` provisions is real and answers over its
// own protocol. The jest global setup brings the engines up.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import WebSocket from 'ws';
import { engineEnv, randomName, waitFor } from '@sluice/testkit';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Elasticsearch answers are read loosely in a smoke test.
type Json = any;
const parse = <T>(data: Buffer): T => JSON.parse(data.toString()) as T;

async function es(base: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('Elasticsearch 3-node tiered cluster', () => {
  const base = engineEnv('elasticsearch-cluster')['ELASTIC_HOST']!.split(',')[0]!;
  const index = `smoke-${randomName()}`;
  afterAll(async () => {
    await es(base, `/${index}`, { method: 'DELETE' });
  });

  it('is green with one master-eligible node per data tier, content on hot and warm', async () => {
    const health = await es(base, '/_cluster/health?wait_for_nodes=3&timeout=30s');
    expect(health.body).toMatchObject({ status: 'green', number_of_nodes: 3, number_of_data_nodes: 3 });
    const nodes = await es(base, '/_nodes/_all/settings');
    const roles = Object.values(nodes.body.nodes as Record<string, { name: string; roles: string[] }>)
      .map((node) => ({ name: node.name, roles: [...node.roles].sort() }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(roles).toEqual([
      { name: 'cold', roles: ['data_cold', 'master'] },
      { name: 'hot', roles: ['data_content', 'data_hot', 'master'] },
      { name: 'warm', roles: ['data_content', 'data_warm', 'master'] },
    ]);
  });

  it('allocates a replica on another node than its primary, and moves shards between tiers', async () => {
    const created = await es(base, `/${index}`, { method: 'PUT', body: { settings: { number_of_shards: 1, number_of_replicas: 1 } } });
    expect(created.status).toBe(200);
    // A new index prefers data_content: the hot and warm nodes hold its two copies.
    const green = await es(base, `/_cluster/health/${index}?wait_for_status=green&timeout=60s`);
    expect(green.body.status).toBe('green');
    const shards = (await es(base, `/_cat/shards/${index}?format=json&h=prirep,state,node`)).body as { prirep: string; state: string; node: string }[];
    expect(shards).toHaveLength(2);
    const primary = shards.find((shard) => shard.prirep === 'p');
    const replica = shards.find((shard) => shard.prirep === 'r');
    expect(primary?.state).toBe('STARTED');
    expect(replica?.state).toBe('STARTED');
    expect(replica?.node).not.toBe(primary?.node);

    // Tier migration really moves shards: cold only, no replica → the one shard lands on "cold".
    await es(base, `/${index}/_settings`, { method: 'PUT', body: { index: { number_of_replicas: 0, 'routing.allocation.include._tier_preference': 'data_cold' } } });
    await waitFor(async () => {
      const now = (await es(base, `/_cat/shards/${index}?format=json&h=prirep,state,node`)).body as { state: string; node: string }[];
      return now.length === 1 && now[0]?.state === 'STARTED' && now[0]?.node === 'cold';
    }, 60_000, () => 'the shard did not move to the cold node');
  });
});

describe('Elasticsearch single node with security', () => {
  const env = engineEnv('elasticsearch');
  const ca = readFileSync(env['ELASTIC_CA_FILE']!);
  const get = (path: string, auth?: string, withCa = true) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${env['ELASTIC_HOST']!}${path}`, { ca: withCa ? ca : undefined, headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });

  it('serves TLS with the provisioned CA and asks for credentials', async () => {
    const credentials = `${env['ELASTIC_HTTP_AUTH_USERNAME']!}:${env['ELASTIC_HTTP_AUTH_PASSWORD']!}`;
    await expect(get('/_cluster/health', credentials)).resolves.toBe(200);
    await expect(get('/_cluster/health')).resolves.toBe(401);
    await expect(get('/_cluster/health', `${env['ELASTIC_HTTP_AUTH_USERNAME']!}:wrong-password`)).resolves.toBe(401);
    // Certificate checks are real: without the CA the connection is refused.
    await expect(get('/_cluster/health', credentials, false)).rejects.toThrow(/self[- ]signed|certificate/i);
  });
});

describe('Pulsar standalone', () => {
  const env = engineEnv('pulsar');
  const web = env['PULSAR_WEB_HOST']!;
  const ws = web.replace(/^http/, 'ws');
  const namespace = `public/smoke-${randomName()}`;
  afterAll(async () => {
    await fetch(`${web}/admin/v2/namespaces/${namespace}?force=true`, { method: 'DELETE' });
  });

  it('keeps a namespace retention policy set over the admin REST API', async () => {
    expect((await fetch(`${web}/admin/v2/namespaces/${namespace}`, { method: 'PUT' })).status).toBe(204);
    const set = await fetch(`${web}/admin/v2/namespaces/${namespace}/retention`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ retentionTimeInMinutes: 30 * 24 * 60, retentionSizeInMB: 1024 }),
    });
    expect(set.status).toBe(204);
    const read = await fetch(`${web}/admin/v2/namespaces/${namespace}/retention`);
    expect(await read.json()).toEqual({ retentionTimeInMinutes: 43200, retentionSizeInMB: 1024 });
  });

  it('delivers a message produced over the WebSocket API to a consumer', async () => {
    const topic = `persistent/${namespace}/smoke`;
    const consumer = new WebSocket(`${ws}/ws/v2/consumer/${topic}/smoke-sub?subscriptionType=Shared`);
    await new Promise((resolve, reject) => consumer.once('open', resolve).once('error', reject));
    const received = new Promise<{ payload: string; properties: Record<string, string>; messageId: string }>((resolve) =>
      consumer.once('message', (data: Buffer) => resolve(parse(data))),
    );

    const producer = new WebSocket(`${ws}/ws/v2/producer/${topic}`);
    await new Promise((resolve, reject) => producer.once('open', resolve).once('error', reject));
    const ack = new Promise<{ result: string; context: string }>((resolve) => producer.once('message', (data: Buffer) => resolve(parse(data))));
    producer.send(JSON.stringify({ payload: Buffer.from('hello sluice').toString('base64'), properties: { kind: 'smoke' }, context: 'c1' }));
    await expect(ack).resolves.toMatchObject({ result: 'ok', context: 'c1' });

    const message = await received;
    expect(Buffer.from(message.payload, 'base64').toString()).toBe('hello sluice');
    expect(message.properties).toEqual({ kind: 'smoke' });
    consumer.send(JSON.stringify({ messageId: message.messageId }));
    producer.close();
    consumer.close();
  });
});

describe('Redis', () => {
  it('answers over RESP with the provisioned password', async () => {
    const env = engineEnv('redis');
    const redis = new Redis(env['REDIS_HOST']!, { password: env['REDIS_PASSWORD']!, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const key = `smoke:${randomName()}`;
    try {
      await redis.set(key, 'ok', 'EX', 60);
      await expect(redis.get(key)).resolves.toBe('ok');
      await expect(redis.config('GET', 'maxmemory-policy')).resolves.toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
    const anonymous = new Redis(env['REDIS_HOST']!, { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await anonymous.connect();
    await expect(anonymous.get(key)).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
  });
});

describe('Redis Sentinel', () => {
  it('has three sentinels agreeing on a primary that takes writes and replicates them to its replica', async () => {
    const env = engineEnv('redis-sentinel');
    const sentinels = env['REDIS_SENTINELS']!.split(',');
    expect(sentinels).toHaveLength(3);
    const [host, port] = sentinels[0]!.split(':');
    const sentinel = new Redis({ host, port: Number(port), lazyConnect: true });
    await sentinel.connect();
    try {
      await expect(sentinel.call('SENTINEL', 'CKQUORUM', env['REDIS_SENTINEL_MASTER']!)).resolves.toMatch(/^OK 3 usable Sentinels/);
      const [primaryHost, primaryPort] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', env['REDIS_SENTINEL_MASTER']!)) as [string, string];
      const replicas = (await sentinel.call('SENTINEL', 'replicas', env['REDIS_SENTINEL_MASTER']!)) as string[][];
      expect(replicas).toHaveLength(1);
      const primary = new Redis({ host: primaryHost, port: Number(primaryPort), password: env['REDIS_PASSWORD']!, lazyConnect: true });
      await primary.connect();
      const key = `smoke:${randomName()}`;
      try {
        // Right after a failover (a test's), the demoted primary resyncs before it is online.
        await waitFor(async () => /slave0:.*state=online/.test(await primary.info('replication')), 30_000, () => 'no replica online');
        await primary.set(key, 'ok', 'EX', 60);
        await expect(primary.call('WAIT', '1', '5000')).resolves.toBe(1);
      } finally {
        await primary.del(key);
        primary.disconnect();
      }
    } finally {
      sentinel.disconnect();
    }
  }, 60_000);
});

describe('MariaDB', () => {
  it('answers over the MySQL protocol with the test credentials', async () => {
    const env = engineEnv('mariadb');
    const connection = await createConnection({
      host: env['MYSQL_HOST']!, port: Number(env['MYSQL_PORT']), user: env['MYSQL_USERNAME']!, password: env['MYSQL_PASSWORD']!, database: env['MYSQL_DATABASE']!,
    });
    try {
      const [rows] = await connection.query('SELECT VERSION() AS version, DATABASE() AS db');
      expect(rows).toEqual([{ version: expect.stringMatching(/MariaDB/), db: env['MYSQL_DATABASE'] }]);
      const table = `smoke_${randomName()}`;
      await connection.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(32)) ENGINE=InnoDB`);
      await connection.query(`INSERT INTO ${table} VALUES (1, 'sluice')`);
      const [back] = await connection.query(`SELECT name FROM ${table} WHERE id = 1`);
      expect(back).toEqual([{ name: 'sluice' }]);
      await connection.query(`DROP TABLE ${table}`);
    } finally {
      await connection.end();
    }
  });
});
