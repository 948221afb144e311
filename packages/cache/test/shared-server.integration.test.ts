// The start-up check for a Redis shared by the cache and BullMQ, on the engines Redis
// (noeviction) and on redis-servers of its own with evicting policies.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { engineEnv, freePort, waitFor } from '@sluice/testkit';
import { inspectRedisServer, sharedEvictingServerWarning } from '../src/index.ts';

const env = engineEnv('redis');
const engines = { url: env['REDIS_HOST']!, password: env['REDIS_PASSWORD']! };
const servers: ChildProcess[] = [];

async function ownServer(args: readonly string[]): Promise<string> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  servers.push(server);
  await waitFor(async () => {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, disconnectTimeout: 100 });
    probe.on('error', () => undefined);
    const answer = await probe.connect().then(() => probe.ping(), () => undefined);
    probe.disconnect();
    return answer === 'PONG';
  }, 10_000, () => 'redis-server did not start');
  return `redis://127.0.0.1:${String(port)}`;
}

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => {
    server.once('exit', resolve);
    server.kill('SIGKILL');
  })));
});

describe('a Redis shared by the cache and the jobs', () => {
  it('says nothing when the shared server never evicts (the engines Redis), whatever db each uses', async () => {
    expect(await sharedEvictingServerWarning({ ...engines, url: `${engines.url}/0` }, { ...engines, url: `${engines.url}/1` }, 2000)).toBeUndefined();
  });

  it('warns when one server with an evicting policy serves both, naming the policy', async () => {
    const url = await ownServer(['--maxmemory-policy', 'allkeys-lru']);
    const warning = await sharedEvictingServerWarning({ url: `${url}/0` }, { url: `${url}/2` }, 2000);
    expect(warning).toMatch(/share one Redis server with maxmemory-policy allkeys-lru.*JOBS_REDIS_HOST/);
  });

  it('reads the policy from INFO when the server forbids CONFIG', async () => {
    const url = await ownServer(['--maxmemory-policy', 'volatile-lru', '--rename-command', 'CONFIG', '']);
    const direct = new Redis(url, { disconnectTimeout: 100 });
    await expect(direct.config('GET', 'maxmemory-policy')).rejects.toThrow(/unknown command/i);
    direct.disconnect();
    expect(await inspectRedisServer({ url }, 2000)).toMatchObject({ maxmemoryPolicy: 'volatile-lru' });
    expect(await sharedEvictingServerWarning({ url }, { url }, 2000)).toMatch(/maxmemory-policy volatile-lru/);
  });

  it('says nothing when the jobs have a Redis of their own, even if the cache evicts', async () => {
    const cache = await ownServer(['--maxmemory-policy', 'allkeys-lru']);
    expect(await sharedEvictingServerWarning({ url: cache }, engines, 2000)).toBeUndefined();
  });

  it('fails (the caller only logs it) when a server cannot be reached', async () => {
    const closed = `redis://127.0.0.1:${String(await freePort())}`;
    const at = Date.now();
    await expect(sharedEvictingServerWarning(engines, { url: closed }, 1000)).rejects.toThrow();
    expect(Date.now() - at).toBeLessThan(3000);
  });
});
