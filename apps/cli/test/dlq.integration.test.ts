// Dead letters on the real broker: a message that fails every time ends in the dead-letter
// topic with its reason, and the replay puts it back on the events topic, once.
import { afterEach, describe, expect, it } from '@jest/globals';
import { DEAD_LETTER_REASON, PulsarWsBus, type EventBus } from '@sluice/bus';
import { receiveAll } from '@sluice/bus/conformance';
import { BullMqJobs } from '@sluice/jobs';
import { DLQ_REPLAY_JOB, defineDlqReplay, replayDeadLetters, type ReplayJobResult } from '@sluice/jobs-app';
import { engineEnv, randomName } from '@sluice/testkit';

const web = engineEnv('pulsar')['PULSAR_WEB_HOST']!;
const OPTIONS = { maxUnacked: 100, maxRedeliver: 2, nackDelayMs: 50 };
let buses: EventBus[] = [];
let namespaces: string[] = [];
let jobs: BullMqJobs[] = [];

afterEach(async () => {
  for (const replica of jobs) await replica.close();
  jobs = [];
  for (const bus of buses) await bus.close();
  for (const namespace of namespaces) await fetch(`${web}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' });
  buses = [];
  namespaces = [];
});

async function openBus(): Promise<EventBus> {
  const namespace = randomName('dlq-');
  expect((await fetch(`${web}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' })).status).toBe(204);
  namespaces.push(namespace);
  const bus = new PulsarWsBus({ webServiceUrl: web, tenant: 'public', namespace, topics: { events: 'events', 'dead-letters': 'dead-letters' }, sendTimeoutMs: 10_000 });
  buses.push(bus);
  return bus;
}

const batch = (id: string) => Buffer.from(JSON.stringify({ events: [{ id, type: 't', profileId: 'p1' }] }));

describe('sluice dlq replay', () => {
  it('brings back a message that failed every time, and a rejected event, once each', async () => {
    const bus = await openBus();
    await bus.publish('events', [{ key: 'p1', payload: batch('always-fails') }]);
    const worker = await bus.consumer('events', 'storage', OPTIONS);
    for (let delivery = 0; delivery < OPTIONS.maxRedeliver; delivery += 1) {
      const [message] = await receiveAll(worker, 1, 5000);
      expect(message).toBeDefined();
      if (message) await worker.nack(message, 'mapper_parsing_exception: the cause');
    }
    expect(await worker.receive(1, 500)).toEqual([]);
    // A store-rejected event, as the worker dead-letters it.
    const rejected = { code: 'STORE_REJECTED', reason: 'mapping conflict', failedAt: new Date().toISOString(), event: { id: 'rejected-1', type: 't', profileId: 'p2' } };
    await bus.publish('dead-letters', [{ key: 'p2', payload: Buffer.from(JSON.stringify(rejected)), properties: { [DEAD_LETTER_REASON]: 'mapping conflict' } }]);

    const lines: string[] = [];
    const dry = await replayDeadLetters(bus, { limit: 100, idleMs: 1000, dryRun: true, print: (line) => lines.push(line) });
    expect(dry).toEqual({ replayed: 0, skipped: 0 });
    expect(lines.join('\n')).toContain('mapper_parsing_exception: the cause');

    // The replay as a BullMQ job, registered by two replicas and asked for twice at once:
    // the runs happen one after the other, so the letters are replayed once.
    const redis = engineEnv('redis');
    const options = { url: redis['REDIS_HOST']!, password: redis['REDIS_PASSWORD']!, prefix: randomName('dlq-jobs-') };
    jobs = [new BullMqJobs(options, () => undefined), new BullMqJobs(options, () => undefined)];
    for (const replica of jobs) defineDlqReplay(replica, bus);
    const runs = (await Promise.all([0, 1].map(() => jobs[0]!.runNow(DLQ_REPLAY_JOB, { limit: 100, idleMs: 1500, dryRun: false })))) as ReplayJobResult[];
    expect(runs.map((run) => run.replayed).sort()).toEqual([0, 2]);
    expect(runs.every((run) => run.skipped === 0)).toBe(true);
    const back = await receiveAll(worker, 2, 10_000);
    const ids = back.map((message) => (JSON.parse(message.payload.toString()) as { events: { id: string }[] }).events[0]?.id).sort();
    expect(ids).toEqual(['always-fails', 'rejected-1']);
    expect(back.every((message) => message.properties[DEAD_LETTER_REASON] === undefined)).toBe(true);
    for (const message of back) await worker.ack(message);
    // Replayed once: a second replay finds nothing.
    expect(await replayDeadLetters(bus, { limit: 100, idleMs: 1000, dryRun: false, print: () => undefined })).toEqual({ replayed: 0, skipped: 0 });
  });
});
