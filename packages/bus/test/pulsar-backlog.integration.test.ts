// What the consumer lag and backlog gauges read from the real broker (npm run engines:up -- pulsar):
// publish times on received messages, and msgBacklog from the admin stats.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { engineEnv, randomName } from '@sluice/testkit';
import { PulsarAdminBacklog, PulsarWsBus, type Consumer } from '../src/index.ts';

const web = engineEnv('pulsar')['PULSAR_WEB_HOST']!;
const topics = { events: 'events', 'dead-letters': 'dead-letters' } as const;
const options = { maxUnacked: 100, maxRedeliver: 3, nackDelayMs: 10 };

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

/** A namespace with a partitioned events topic (as `sluice init` makes it) and a plain dead-letters topic. */
async function namespace(): Promise<string> {
  const name = randomName('backlog-');
  expect((await fetch(`${web}/admin/v2/namespaces/public/${name}`, { method: 'PUT' })).status).toBe(204);
  cleanups.push(() => fetch(`${web}/admin/v2/namespaces/public/${name}?force=true`, { method: 'DELETE' }));
  expect((await fetch(`${web}/admin/v2/persistent/public/${name}/events/partitions`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '2' })).status).toBe(204);
  return name;
}

async function waitForBacklog(reader: PulsarAdminBacklog, output: 'events' | 'dead-letters', wanted: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let seen: number | undefined;
  while (Date.now() < deadline) {
    seen = await reader.backlog(output, 'storage');
    if (seen === wanted) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`backlog of ${output} stayed ${String(seen)}, wanted ${String(wanted)}`);
}

describe('Pulsar lag and backlog sources', () => {
  it('received messages carry their publish time; msgBacklog is read for partitioned and plain topics', async () => {
    const ns = await namespace();
    const bus = new PulsarWsBus({ webServiceUrl: web, tenant: 'public', namespace: ns, topics, sendTimeoutMs: 10_000 });
    cleanups.push(() => bus.close());
    const consumers: Consumer[] = [];
    for (const output of ['events', 'dead-letters'] as const) consumers.push(await bus.consumer(output, 'storage', options));
    const before = Date.now();
    await bus.publish('events', [1, 2, 3].map((n) => ({ key: `k${String(n)}`, payload: Buffer.from(`m${String(n)}`) })));
    await bus.publish('dead-letters', [{ key: 'd', payload: Buffer.from('d') }]);
    const after = Date.now();

    const reader = new PulsarAdminBacklog({ webServiceUrl: web, tenant: 'public', namespace: ns, topics, minIntervalMs: 0 });
    await waitForBacklog(reader, 'events', 3);
    await waitForBacklog(reader, 'dead-letters', 1);
    expect(await reader.backlog('events', 'no-such-subscription')).toBeUndefined();

    const events = consumers[0]!;
    const received = [];
    while (received.length < 3) received.push(...(await events.receive(3, 1000)));
    for (const message of received) {
      // The broker's clock is this machine's: within the publish call, give or take a few ms.
      expect(message.publishedAt).toBeGreaterThanOrEqual(before - 50);
      expect(message.publishedAt).toBeLessThanOrEqual(after + 50);
      await events.ack(message);
    }
    await waitForBacklog(reader, 'events', 0);
  });

  it('reads each topic at most once per minIntervalMs, and stops for good once the admin API refuses its credentials', async () => {
    let calls = 0;
    let status = 200;
    const server: Server = createServer((_request, response) => {
      calls += 1;
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ subscriptions: { storage: { msgBacklog: 7 } } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const reader = new PulsarAdminBacklog({ webServiceUrl: `http://127.0.0.1:${String(port)}`, tenant: 't', namespace: 'n', topics, minIntervalMs: 60_000 });

    expect(await reader.backlog('events', 'storage')).toBe(7);
    expect(await reader.backlog('events', 'storage')).toBe(7);
    expect(calls).toBe(1);

    const refused = new PulsarAdminBacklog({ webServiceUrl: `http://127.0.0.1:${String(port)}`, tenant: 't', namespace: 'n', topics, minIntervalMs: 0 });
    status = 403;
    expect(await refused.backlog('events', 'storage')).toBeUndefined();
    expect(refused.enabled).toBe(false);
    const callsWhenRefused = calls;
    status = 200;
    expect(await refused.backlog('events', 'storage')).toBeUndefined();
    expect(calls).toBe(callsWhenRefused);
  });
});
