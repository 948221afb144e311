// Dead letters, on real engines: what the pipeline dead-letters (a message the worker cannot
// decode, an event the store refused, an older build's letter) is listed and shown without
// being consumed, replayed (the event is stored) or dropped, and nothing else is lost —
// with `sluice dlq` against an all-in-one on the embedded bus and on Pulsar, and the replay
// job itself on Pulsar with BullMQ across two replicas; and a replay beside running workers
// that refuse its letters again ends, replaying each letter that existed once.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import { EmbeddedBus, PulsarWsBus, type EventBus } from '@sluice/bus';
import { receiveAll } from '@sluice/bus/conformance';
import { loadConfig } from '@sluice/config';
import { decodeEventsMessage, encodeDeadLetter, encodeEvents, type DeadLetter, type TrackedEvent } from '@sluice/core';
import { BullMqJobs } from '@sluice/jobs';
import { DLQ_REPLAY_JOB, defineDlqReplay, dlqJobData, listDeadLetters, replayDeadLetters, showDeadLetter, type DlqJobResult, type ListReport } from '@sluice/jobs-app';
import { Metrics, createLogger } from '@sluice/observability';
import type { EventSink } from '@sluice/store';
import { StorageWorker } from '@sluice/worker';
import { REPO_ROOT, engineEnv, profileEventIds, randomName, startSluice, tempDir, trackEvents, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'dlq-test-admin-token-123';
const pulsar = engineEnv('pulsar');
const web = pulsar['PULSAR_WEB_HOST']!;
/** Not JSON: the worker can never decode it. */
const POISON = Buffer.from('{"v":1,"kind":"events","events":[ this is not JSON');

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

/** An event the store refused, as the worker dead-letters it. */
function rejectedEventLetter(id: string, profileId: string): DeadLetter {
  const now = new Date().toISOString();
  const event: TrackedEvent = {
    id, type: 'purchase', sourceId: 'demo', sessionId: `s-${profileId}`, profileId, time: now, receivedAt: now,
    properties: { total: 42 }, context: {}, tags: [], metadata: { ip: '127.0.0.1' },
  };
  return { v: 1, kind: 'event', code: 'STORE_REJECTED', reason: 'mapper_parsing_exception: failed to parse field [properties.total]', origin: 'events#17', attempts: 1, failedAt: now, event };
}

async function pulsarNamespace(): Promise<string> {
  const namespace = randomName('dlq-');
  expect((await fetch(`${web}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' })).status).toBe(204);
  cleanups.push(async () => {
    await fetch(`${web}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' });
  });
  return namespace;
}

function pulsarBus(namespace: string): EventBus {
  const bus = new PulsarWsBus({ webServiceUrl: web, tenant: 'public', namespace, topics: { events: 'events', 'dead-letters': 'dead-letters' }, sendTimeoutMs: 10_000 });
  cleanups.push(() => bus.close());
  return bus;
}

/** `sluice dlq …` as an operator runs it; its stdout (rejects with stderr on a non-zero exit). */
async function dlq(env: Record<string, string>, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['apps/cli/src/bin.ts', 'dlq', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
  return stdout;
}
const list = async (env: Record<string, string>, ...args: string[]) => JSON.parse(await dlq(env, 'list', '--json', '--idle', '1000', ...args)) as ListReport;
/** The totals line a replay or drop ends with. */
const totals = (output: string) => JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;

describe('sluice dlq against an all-in-one', () => {
  /**
   * The story an operator lives: a poison message and a store-refused event sit in the dead
   * letters; list shows both with code and reason, show prints one, replay of the event stores
   * it, drop removes the poison; the canaries around them are stored.
   */
  async function operate(env: Record<string, string>, profile: string, running: () => Promise<SluiceProcess>): Promise<void> {
    const first = await list(env);
    expect(first.letters.map((letter) => [letter.kind, letter.code])).toEqual([['event', 'STORE_REJECTED'], ['message', 'MESSAGE_INVALID']]);
    expect(first.letters[0]).toMatchObject({ attempts: 1, origin: 'events#17', reason: expect.stringContaining('mapper_parsing_exception') as unknown });
    const poison = first.letters[1]!;
    expect(poison.reason).toMatch(/JSON/);
    expect(poison.attempts).toBe(1); // the worker dead-letters what it cannot decode at once, no redelivery
    expect(poison.origin).toMatch(/\S/);
    expect(await dlq(env, 'list', '--idle', '1000')).toContain('MESSAGE_INVALID');
    // list consumed nothing, and show does not either.
    expect((await list(env)).letters).toEqual(first.letters);
    const shown = JSON.parse(await dlq(env, 'show', poison.id, '--idle', '1000')) as { code: string; message: { payload: string; encoding: string } };
    expect(shown).toMatchObject({ code: 'MESSAGE_INVALID', message: { payload: POISON.toString('utf8'), encoding: 'utf8' } });
    await expect(dlq(env, 'show', 'no-such-letter', '--idle', '1000')).rejects.toThrow(/no dead letter no-such-letter/);
    expect(totals(await dlq(env, 'replay', '--code', 'STORE_REJECTED', '--dry-run', '--idle', '1000'))).toMatchObject({ 'would be replayed': 1, kept: 1 });
    expect((await list(env)).letters).toEqual(first.letters);

    expect(totals(await dlq(env, 'replay', '--code', 'STORE_REJECTED', '--idle', '1000'))).toMatchObject({ replayed: 1, undecodable: 0, kept: 1, later: 0 });
    expect((await list(env)).letters).toEqual([poison]);
    await expect(dlq(env, 'drop', '--idle', '1000')).rejects.toThrow(/--code, --kind or --id, or --all/);
    expect(totals(await dlq(env, 'drop', '--code', 'MESSAGE_INVALID', '--idle', '1000'))).toMatchObject({ dropped: 1, kept: 0 });
    expect((await list(env)).letters).toEqual([]);

    const sluice = await running();
    await waitFor(async () => (await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).includes('refused-then-fixed'), 20_000, () => 'the replayed event was not stored');
    expect((await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).sort()).toEqual(['canary-1', 'canary-2', 'refused-then-fixed']);
  }

  it('on the embedded bus (Sluice stopped while the CLI owns DATA_DIR)', async () => {
    const { dir, cleanup } = await tempDir('sluice-dlq-');
    cleanups.push(cleanup);
    const env = { DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200', BUS_MAX_REDELIVER: '2', BUS_NACK_DELAY: '100' };
    const profile = 'dlq-embedded';
    let sluice = await startSluice('start', env);
    cleanups.push(() => sluice.stop().then(() => undefined));
    expect(await trackEvents(sluice.url, profile, ['canary-1'])).toBe(200);
    await waitFor(async () => (await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).length === 1, 10_000);
    await sluice.stop();

    const bus = await EmbeddedBus.open({ dir: join(dir, 'bus'), topics: { events: 'events', 'dead-letters': 'dead-letters' }, segmentBytes: 64 * 1024 * 1024, fsync: true });
    await bus.publish('dead-letters', [{ key: profile, payload: encodeDeadLetter(rejectedEventLetter('refused-then-fixed', profile)) }]);
    await bus.publish('events', [{ key: profile, payload: POISON }]);
    await bus.close();

    // The worker dead-letters the poison on its first delivery (MESSAGE_INVALID); the canary
    // behind it is stored. Sluice stops so that the CLI can open DATA_DIR.
    sluice = await startSluice('start', env);
    expect(await trackEvents(sluice.url, profile, ['canary-2'])).toBe(200);
    await waitFor(async () => (await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).length === 2, 10_000, () => 'the canary behind the poison was not stored');
    await waitFor(async () => {
      await sluice.stop();
      if ((await list(env, '--kind', 'message')).letters.length === 1) return true;
      sluice = await startSluice('start', env);
      return false;
    }, 60_000, () => 'the poison message was not dead-lettered');

    await operate(env, profile, async () => (sluice = await startSluice('start', env)));
  });

  it('on Pulsar (the CLI beside the running Sluice)', async () => {
    const { dir, cleanup } = await tempDir('sluice-dlq-');
    cleanups.push(cleanup);
    const namespace = await pulsarNamespace();
    const env = {
      DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200', BUS_MAX_REDELIVER: '2', BUS_NACK_DELAY: '100',
      BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: web, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '2',
    };
    const profile = 'dlq-pulsar';
    const sluice = await startSluice('start', env, 60_000);
    cleanups.push(() => sluice.stop().then(() => undefined));
    expect(await trackEvents(sluice.url, profile, ['canary-1'])).toBe(200);
    const bus = pulsarBus(namespace);
    await bus.publish('dead-letters', [{ key: profile, payload: encodeDeadLetter(rejectedEventLetter('refused-then-fixed', profile)) }]);
    await bus.publish('events', [{ key: profile, payload: POISON }]);
    expect(await trackEvents(sluice.url, profile, ['canary-2'])).toBe(200);
    await waitFor(async () => (await profileEventIds(sluice.url, profile, ADMIN_TOKEN)).length === 2, 20_000, () => 'the canaries were not stored');
    await waitFor(async () => (await list(env, '--kind', 'message')).letters.length === 1, 60_000, () => 'the poison message was not dead-lettered');

    await operate(env, profile, async () => sluice);
  });
});

describe('the dlq-replay job on Pulsar', () => {
  it('replays what matches once across two BullMQ replicas, keeps the rest in order, and replays an older build\'s letter as its bytes', async () => {
    const bus = pulsarBus(await pulsarNamespace());
    // A message the bus dead-lettered, a store-refused event, an older build's letter.
    await bus.publish('events', [{ key: 'p1', payload: POISON, properties: { trace: 't-1' } }]);
    const worker = await bus.consumer('events', 'storage', { maxUnacked: 100, maxRedeliver: 2, nackDelayMs: 50 });
    for (let delivery = 0; delivery < 2; delivery += 1) {
      const [message] = await receiveAll(worker, 1, 5000);
      await worker.nack(message!, { code: 'MESSAGE_INVALID', reason: 'the message is not JSON' });
    }
    await bus.publish('dead-letters', [{ key: 'p2', payload: encodeDeadLetter(rejectedEventLetter('rejected-1', 'p2')) }]);
    const legacy = Buffer.from(JSON.stringify({ code: 'STORE_REJECTED', reason: 'mapping conflict', failedAt: '2026-01-01T00:00:00.000Z', event: { id: 'old-1' } }));
    await bus.publish('dead-letters', [{ key: 'p3', payload: legacy, properties: { 'sluice-dead-letter-reason': 'mapping conflict' } }]);

    const all = await listDeadLetters(bus, { filter: {}, limit: 100, idleMs: 1500 });
    expect(all.letters.map((letter) => [letter.kind, letter.code])).toEqual([['message', 'MESSAGE_INVALID'], ['event', 'STORE_REJECTED'], ['unknown', 'STORE_REJECTED']]);
    expect(all.letters[2]).toMatchObject({ reason: 'mapping conflict', failedAt: '2026-01-01T00:00:00.000Z' });
    expect(await showDeadLetter(bus, all.letters[1]!.id, { idleMs: 1500 })).toMatchObject({ kind: 'event', event: { id: 'rejected-1' } });
    expect(await listDeadLetters(bus, { filter: { code: 'STORE_REJECTED' }, limit: 1, idleMs: 1500 })).toMatchObject({ matched: 2, seen: 3, more: false, letters: [all.letters[1]] });

    // Two replicas, asked twice at once: the runs happen one after the other.
    const redis = engineEnv('redis');
    const options = { url: redis['REDIS_HOST']!, password: redis['REDIS_PASSWORD']!, prefix: randomName('dlq-jobs-') };
    const replicas = [new BullMqJobs(options, () => undefined), new BullMqJobs(options, () => undefined)];
    cleanups.push(async () => {
      for (const replica of replicas) await replica.close();
    });
    for (const replica of replicas) defineDlqReplay(replica, bus);
    const request = dlqJobData({ action: 'replay', filter: { kind: 'event' }, dryRun: false, idleMs: 1500 });
    const runs = (await Promise.all([0, 1].map(() => replicas[0]!.runNow(DLQ_REPLAY_JOB, request)))) as DlqJobResult[];
    expect(runs.map((run) => run.acted).sort()).toEqual([0, 1]);
    const [back] = await receiveAll(worker, 1, 5000);
    expect(back?.key).toBe('p2');
    const decoded = decodeEventsMessage(back!.payload);
    expect(decoded.ok && decoded.events.map((event) => event.id)).toEqual(['rejected-1']);
    await worker.ack(back!);
    expect((await listDeadLetters(bus, { filter: {}, limit: 100, idleMs: 1500 })).letters).toEqual([all.letters[0], all.letters[2]]);

    // The poison and the old letter cannot be decoded: kept unless forced, then they go back as
    // they were, and the replay says the worker will refuse them again.
    const lines: string[] = [];
    const unforced = await replayDeadLetters(bus, { filter: {}, dryRun: false, idleMs: 1500, print: (line) => lines.push(line) });
    expect(unforced).toMatchObject({ acted: 0, undecodable: 2, kept: 0 });
    expect(lines.map((line) => JSON.parse(line) as { action: string; note: string })).toEqual([0, 1].map(() => expect.objectContaining({ action: 'kept', note: expect.stringContaining('--force') as unknown })));
    expect((await listDeadLetters(bus, { filter: {}, limit: 100, idleMs: 1000 })).letters).toEqual([all.letters[0], all.letters[2]]);
    lines.length = 0;
    const report = await replayDeadLetters(bus, { filter: {}, dryRun: false, force: true, idleMs: 1500, print: (line) => lines.push(line) });
    expect(report).toMatchObject({ acted: 2, undecodable: 2, kept: 0 });
    expect(lines.join('\n')).toContain('dead-letters it anew at once');
    const again = await receiveAll(worker, 2, 5000);
    expect(again.map((message) => [message.key, message.payload.toString()])).toEqual([['p1', POISON.toString()], ['p3', legacy.toString()]]);
    expect(again[0]?.properties).toEqual({ trace: 't-1' });
    expect(again[1]?.properties).toEqual({});
    expect((await listDeadLetters(bus, { filter: {}, limit: 100, idleMs: 1000 })).letters).toEqual([]);
  });
});

/** A store that refuses every event, as Elasticsearch refuses a mapping conflict: replaying its letters can never help. */
const refusingStore: EventSink = {
  health: async () => ({ ok: true, adapter: 'refusing' }),
  writeBatch: async (batch) => batch.events.map(() => ({ status: 'rejected', code: 'STORE_REJECTED', reason: 'mapper_parsing_exception: refused by the test' }) as const),
};

describe('a replay beside running workers that refuse its letters again', () => {
  it('on the embedded bus: replays each letter that existed once, keeps the undecodable one unless forced, and ends', async () => {
    const { dir, cleanup } = await tempDir('sluice-dlq-loop-');
    cleanups.push(cleanup);
    const bus = await EmbeddedBus.open({ dir: join(dir, 'bus'), topics: { events: 'events', 'dead-letters': 'dead-letters' }, segmentBytes: 1024 * 1024, fsync: false });
    cleanups.push(() => bus.close());
    const config = loadConfig({ DATA_DIR: dir, STORAGE_FLUSH_INTERVAL: '50' });
    const worker = new StorageWorker({ bus, store: refusingStore, config, logger: createLogger('critical'), metrics: new Metrics({ defaultMetrics: false }) });
    await worker.start();
    cleanups.push(() => worker.stop());
    const now = new Date().toISOString();
    const event: TrackedEvent = { id: 'refused-1', type: 'purchase', sourceId: 'demo', sessionId: 's-loop', profileId: 'loop', time: now, receivedAt: now, properties: {}, context: {}, tags: [], metadata: {} };
    await bus.publish('events', [{ key: 'loop', payload: Buffer.from(encodeEvents([event])) }]);
    await bus.publish('events', [{ key: 'loop', payload: POISON }]);
    const letters = async () => (await listDeadLetters(bus, { filter: {}, limit: 100, idleMs: 300 })).letters;
    await waitFor(async () => (await letters()).length === 2, 10_000, () => 'the refused event and the poison were not dead-lettered');
    // The poison is dead-lettered on its first delivery, the event once the batch is written.
    const [poison, refused] = await letters();
    expect([poison?.code, refused?.code]).toEqual(['MESSAGE_INVALID', 'STORE_REJECTED']);

    /** One replay run, which must end on its own (it looped for ever beside a worker before). */
    const replay = async (force: boolean) => {
      const lines: Record<string, unknown>[] = [];
      const run = replayDeadLetters(bus, { filter: {}, dryRun: false, force, idleMs: 1000, print: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the replay still runs after 15 s (${String(lines.length)} letters replayed)`)), 15_000)));
      try {
        return { report: await Promise.race([run, timeout]), lines };
      } finally {
        clearTimeout(timer);
      }
    };

    // The event goes back once and is refused again; its new letter stays. The poison stays as it was.
    const first = await replay(false);
    expect(first.report).toMatchObject({ acted: 1, undecodable: 1, kept: 0, later: 1, more: false });
    expect(first.lines).toEqual([
      expect.objectContaining({ id: poison!.id, action: 'kept', note: expect.stringContaining('--force') as unknown }),
      expect.objectContaining({ id: refused!.id, action: 'replayed' }),
    ]);
    const afterFirst = await letters();
    expect(afterFirst.map((letter) => [letter.id === poison!.id, letter.code])).toEqual([[true, 'MESSAGE_INVALID'], [false, 'STORE_REJECTED']]);
    expect(Date.parse(afterFirst[1]!.failedAt!)).toBeGreaterThan(Date.parse(refused!.failedAt!));

    // Forced, the poison goes back too, once: the worker dead-letters it anew at once.
    const forced = await replay(true);
    expect(forced.report).toMatchObject({ acted: 2, undecodable: 1, kept: 0, later: 2, more: false });
    expect(forced.lines.map((line) => line['action'])).toEqual(['replayed', 'replayed']);
    const afterForced = await letters();
    expect(afterForced.map((letter) => letter.code).sort()).toEqual(['MESSAGE_INVALID', 'STORE_REJECTED']);
    expect(afterForced.filter((letter) => afterFirst.some((old) => old.id === letter.id))).toEqual([]);
  });

  it('on Pulsar: `sluice dlq replay` beside a running all-in-one keeps the poison unless --force, and ends', async () => {
    const { dir, cleanup } = await tempDir('sluice-dlq-loop-');
    cleanups.push(cleanup);
    const namespace = await pulsarNamespace();
    const env = {
      DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200',
      BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: web, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '2',
    };
    const sluice = await startSluice('start', env, 60_000);
    cleanups.push(() => sluice.stop().then(() => undefined));
    await pulsarBus(namespace).publish('events', [{ key: 'loop', payload: POISON }]);
    await waitFor(async () => (await list(env)).letters.length === 1, 60_000, () => 'the poison message was not dead-lettered');
    const [poison] = (await list(env)).letters;

    const unforced = await dlq(env, 'replay', '--idle', '1500');
    expect(totals(unforced)).toMatchObject({ replayed: 0, undecodable: 1, undecodableNote: expect.stringContaining('--force') as unknown, kept: 0 });
    expect((await list(env)).letters).toEqual([poison]);

    expect(totals(await dlq(env, 'replay', '--force', '--idle', '1500'))).toMatchObject({ replayed: 1, undecodable: 1, kept: 0 });
    await waitFor(async () => (await list(env)).letters.length === 1, 20_000, () => 'the forced replay did not come back as one letter');
    const [back] = (await list(env)).letters;
    expect(back).toMatchObject({ code: 'MESSAGE_INVALID', attempts: 1 });
    expect(back!.id).not.toBe(poison!.id);
  });
});
