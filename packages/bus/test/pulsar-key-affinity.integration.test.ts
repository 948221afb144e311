import { afterEach, describe, expect, it } from '@jest/globals';
import { decodeDeadLetter } from '@sluice/core';
import { PulsarWsBus, type ConsumerOptions, type EventBus, type ReceivedMessage } from '../src/index.ts';
import { receiveAll } from '../src/conformance.ts';
import { partitionOfKey } from '../src/pulsar/key-partition.ts';
import { engineEnv, randomName } from '@sluice/testkit';

// Key affinity on the real broker (npm run engines:up -- pulsar): a partitioned events topic
// of PARTITIONS partitions in a namespace of its own, as `sluice init` creates it.
const web = engineEnv('pulsar')['PULSAR_WEB_HOST']!;
const PARTITIONS = 4;
const AFFINITY: ConsumerOptions = { maxUnacked: 1000, maxRedeliver: 3, nackDelayMs: 50, keyAffinity: true };
const encoder = new TextEncoder();

describe('Pulsar key affinity (WebSocket)', () => {
  let namespace = '';
  const buses: EventBus[] = [];
  const open = (events = 'events') => {
    const bus = new PulsarWsBus({ webServiceUrl: web, tenant: 'public', namespace, topics: { events, 'dead-letters': 'dead-letters' }, sendTimeoutMs: 10_000 });
    buses.push(bus);
    return bus;
  };

  const createNamespace = async () => {
    namespace = randomName('affinity-');
    expect((await fetch(`${web}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' })).status).toBe(204);
    const created = await fetch(`${web}/admin/v2/persistent/public/${namespace}/events/partitions`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: String(PARTITIONS) });
    expect(created.status).toBe(204);
  };

  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
    await fetch(`${web}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' });
  });

  const keys = Array.from({ length: 40 }, (_, n) => `profile-${String(n)}-${'é'.repeat(n % 3)}`);
  const publishAll = async (bus: EventBus) => {
    for (let round = 0; round < 3; round += 1) await bus.publish('events', keys.map((key, n) => ({ key, payload: encoder.encode(JSON.stringify({ n, round })) })));
  };

  it('puts every keyed message on the partition partitionOfKey names (the grouping bus groups by it)', async () => {
    await createNamespace();
    await publishAll(open());
    for (let partition = 0; partition < PARTITIONS; partition += 1) {
      const expected = keys.filter((key) => partitionOfKey(key, PARTITIONS) === partition);
      const consumer = await open(`events-partition-${String(partition)}`).consumer('events', 'check', { maxUnacked: 1000, maxRedeliver: 3, nackDelayMs: 50 });
      const received = await receiveAll(consumer, expected.length * 3, 10_000);
      expect([...new Set(received.map((message) => message.key))].sort()).toEqual(expected.sort());
      expect(await consumer.receive(1, 300)).toEqual([]);
    }
  });

  it('hands all messages of a key to one consumer of the subscription, and splits the partitions between consumers', async () => {
    await createNamespace();
    const first = await open().consumer('events', 'workers', AFFINITY);
    const second = await open().consumer('events', 'workers', AFFINITY);
    // The broker assigns the partitions once both consumers are there (a failover delay of about 1 s).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await publishAll(open());
    const byConsumer = new Map<string, Set<number>>();
    const taken = [first, second].map(() => [] as ReceivedMessage[]);
    const deadline = Date.now() + 15_000;
    while (taken[0]!.length + taken[1]!.length < keys.length * 3 && Date.now() < deadline) {
      for (const [index, consumer] of [first, second].entries()) {
        for (const message of await consumer.receive(1000, 100)) {
          taken[index]!.push(message);
          await consumer.ack(message);
        }
      }
    }
    for (const [index, messages] of taken.entries()) for (const message of messages) byConsumer.set(message.key, (byConsumer.get(message.key) ?? new Set()).add(index));
    expect(taken[0]!.length + taken[1]!.length).toBe(keys.length * 3);
    expect([...byConsumer.values()].every((consumers) => consumers.size === 1)).toBe(true);
    expect(taken[0]!.length).toBeGreaterThan(0);
    expect(taken[1]!.length).toBeGreaterThan(0);
  });

  it('still dead-letters a message after maxRedeliver deliveries (the broker counts none on such a subscription)', async () => {
    await createNamespace();
    const bus = open();
    await bus.publish('events', [{ key: 'poison', payload: encoder.encode('poison'), properties: { origin: 'test' } }]);
    const consumer = await bus.consumer('events', 'workers', AFFINITY);
    const counts: number[] = [];
    for (let delivery = 0; delivery < AFFINITY.maxRedeliver; delivery += 1) {
      const [received] = await receiveAll(consumer, 1, 10_000);
      expect(received?.key).toBe('poison');
      counts.push(received!.redeliveryCount);
      await consumer.nack(received!, { code: 'STORE_REJECTED', reason: 'never storable' });
    }
    expect(counts).toEqual([0, 1, 2]);
    expect(await consumer.receive(1, 1000)).toEqual([]);
    const dead = await receiveAll(await bus.consumer('dead-letters', 'check', AFFINITY), 1, 10_000);
    const decoded = decodeDeadLetter(dead[0]!.payload);
    expect(decoded.ok && decoded.letter.kind === 'message' && decoded.letter.attempts).toBe(AFFINITY.maxRedeliver);
  });
});
