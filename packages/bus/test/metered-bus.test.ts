import { afterEach, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { utimes, readdir } from 'node:fs/promises';
import { SluiceError } from '@sluice/core';
import { Metrics } from '@sluice/observability';
import { tempDir } from '@sluice/testkit';
import { EmbeddedBus, MeteredBus, lagSeconds, type EventBus } from '../src/index.ts';
import { AppendTimes } from '../src/embedded/append-times.ts';

const topics = { events: 'events-topic', 'dead-letters': 'dead-letters-topic' } as const;
const options = { maxUnacked: 100, maxRedeliver: 3, nackDelayMs: 10 };

let teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.reverse()) await step();
  teardown = [];
});

async function embedded(): Promise<{ bus: EmbeddedBus; dir: string }> {
  const temp = await tempDir('sluice-metered-');
  const bus = await EmbeddedBus.open({ dir: join(temp.dir, 'bus'), topics, segmentBytes: 1 << 20, fsync: false });
  teardown.push(async () => {
    await bus.close();
    await temp.cleanup();
  });
  return { bus, dir: join(temp.dir, 'bus') };
}

/** The value of one sample of the /metrics text, or undefined when absent. */
async function sample(metrics: Metrics, line: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const found = text.split('\n').find((candidate) => candidate.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const message = (n: number) => ({ key: `k${String(n)}`, payload: Buffer.from(`payload ${String(n)}`) });

describe('MeteredBus', () => {
  it('times every publish by topic and outcome, and passes results and errors through', async () => {
    const { bus: inner } = await embedded();
    const metrics = new Metrics({ defaultMetrics: false });
    const bus = new MeteredBus(inner, { metrics, topics });
    await bus.publish('events', [message(1)]);
    await bus.publish('events', [message(2), message(3)]);
    await bus.publish('dead-letters', [message(4)]);
    expect(await sample(metrics, 'sluice_bus_publish_seconds_count{topic="events-topic",outcome="ok"}')).toBe(2);
    expect(await sample(metrics, 'sluice_bus_publish_seconds_count{topic="dead-letters-topic",outcome="ok"}')).toBe(1);

    const failing: EventBus = { ...inner, publish: async () => Promise.reject(new SluiceError('BUS_UNAVAILABLE', 'down')), health: () => inner.health(), consumer: (...args) => inner.consumer(...args), close: () => inner.close() };
    const meteredFailing = new MeteredBus(failing, { metrics, topics });
    await expect(meteredFailing.publish('events', [message(5)])).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    expect(await sample(metrics, 'sluice_bus_publish_seconds_count{topic="events-topic",outcome="error"}')).toBe(1);
  });

  it('sets the consumer lag from the age of what a receive returns (0 when nothing waits), and the backlog at scrape time', async () => {
    const { bus: inner } = await embedded();
    const metrics = new Metrics({ defaultMetrics: false });
    let now = Date.now();
    const bus = new MeteredBus(inner, { metrics, topics, backlog: inner, now: () => now });
    await bus.publish('events', [message(1), message(2), message(3)]);
    now = Date.now(); // the messages were appended at or before it
    const consumer = await bus.consumer('events', 'storage', options);
    // Present as soon as the subscription is consumed.
    expect(await sample(metrics, 'sluice_bus_consumer_lag_seconds{topic="events-topic",subscription="storage"}')).toBe(0);
    expect(await sample(metrics, 'sluice_bus_backlog_messages{topic="events-topic",subscription="storage"}')).toBe(3);

    now += 1500;
    const first = await consumer.receive(2, 1000);
    expect(first).toHaveLength(2);
    const lag = await sample(metrics, 'sluice_bus_consumer_lag_seconds{topic="events-topic",subscription="storage"}');
    expect(lag).toBeGreaterThanOrEqual(1.5);
    expect(lag).toBeLessThan(2.5);
    for (const received of first) await consumer.ack(received);
    expect(await sample(metrics, 'sluice_bus_backlog_messages{topic="events-topic",subscription="storage"}')).toBe(1);

    const rest = await consumer.receive(10, 1000);
    await consumer.ack(rest[0]!);
    expect(await consumer.receive(10, 50)).toEqual([]);
    expect(await sample(metrics, 'sluice_bus_consumer_lag_seconds{topic="events-topic",subscription="storage"}')).toBe(0);
    expect(await sample(metrics, 'sluice_bus_backlog_messages{topic="events-topic",subscription="storage"}')).toBe(0);

    // The last consumer gone, its gauges go too (they would only go stale).
    await consumer.close();
    expect(await sample(metrics, 'sluice_bus_consumer_lag_seconds{topic="events-topic",subscription="storage"}')).toBeUndefined();
    expect(await sample(metrics, 'sluice_bus_backlog_messages{topic="events-topic",subscription="storage"}')).toBeUndefined();
  });

  it('a backlog reader that fails leaves the gauge absent and the scrape whole', async () => {
    const { bus: inner } = await embedded();
    const metrics = new Metrics({ defaultMetrics: false });
    const bus = new MeteredBus(inner, { metrics, topics, backlog: { backlog: () => Promise.reject(new Error('admin API down')) } });
    const consumer = await bus.consumer('events', 'storage', options);
    teardown.push(() => consumer.close());
    expect(await sample(metrics, 'sluice_bus_backlog_messages{topic="events-topic",subscription="storage"}')).toBeUndefined();
    expect(await sample(metrics, 'sluice_bus_consumer_lag_seconds{topic="events-topic",subscription="storage"}')).toBe(0);
  });
});

describe('consumer lag on the embedded log', () => {
  it('gives each received message the time it was appended', async () => {
    const { bus } = await embedded();
    const before = Date.now();
    await bus.publish('events', [message(1)]);
    const after = Date.now();
    const consumer = await bus.consumer('events', 'storage', options);
    teardown.push(() => consumer.close());
    const [received] = await consumer.receive(1, 1000);
    expect(received?.publishedAt).toBeGreaterThanOrEqual(before - 10);
    expect(received?.publishedAt).toBeLessThanOrEqual(after);
  });

  it('after a restart, dates records appended before it by their segment\'s last write (never older)', async () => {
    const temp = await tempDir('sluice-metered-restart-');
    teardown.push(() => temp.cleanup());
    const dir = join(temp.dir, 'bus');
    const first = await EmbeddedBus.open({ dir, topics, segmentBytes: 1 << 20, fsync: false });
    await first.publish('events', [message(1)]);
    await first.close();
    const written = new Date(Date.now() - 60_000);
    for (const name of await readdir(join(dir, topics.events))) if (name.endsWith('.log')) await utimes(join(dir, topics.events, name), written, written);
    const reopened = await EmbeddedBus.open({ dir, topics, segmentBytes: 1 << 20, fsync: false });
    teardown.push(() => reopened.close());
    const consumer = await reopened.consumer('events', 'storage', options);
    const [received] = await consumer.receive(1, 1000);
    await consumer.close();
    expect(received?.publishedAt).toBe(written.getTime());
  });
});

describe('lagSeconds', () => {
  it('is the age of the oldest message with a publish time, 0 for an empty receive, undefined when none has one', () => {
    expect(lagSeconds([{ publishedAt: 9000 }, { publishedAt: 7000 }, {}], 10_000)).toBe(3);
    expect(lagSeconds([], 10_000)).toBe(0);
    expect(lagSeconds([{}], 10_000)).toBeUndefined();
    expect(lagSeconds([{ publishedAt: 11_000 }], 10_000)).toBe(0);
  });
});

describe('AppendTimes', () => {
  it('dates an offset by the last sample at or below it, samples at most every 10 ms', () => {
    const times = new AppendTimes();
    expect(times.at(0)).toBeUndefined();
    times.record(0, 1000);
    times.record(5, 1005); // within 10 ms: no new sample
    times.record(8, 1020);
    expect(times.size).toBe(2);
    expect(times.at(0)).toBe(1000);
    expect(times.at(7)).toBe(1000);
    expect(times.at(8)).toBe(1020);
    expect(times.at(1_000_000)).toBe(1020);
  });

  it('stays bounded: past 65 536 samples every other old one goes, and dropBelow forgets what deleted segments needed', () => {
    const times = new AppendTimes();
    for (let index = 0; index < 70_000; index += 1) times.record(index * 10, index * 100);
    expect(times.size).toBeLessThanOrEqual(65_536);
    // Coarser, never later than the truth.
    expect(times.at(123_455)).toBeLessThanOrEqual(1_234_500);
    expect(times.at(699_990)).toBe(6_999_900);
    times.dropBelow(500_000);
    expect(times.at(500_000)).toBeLessThanOrEqual(5_000_000);
    expect(times.size).toBeLessThan(30_000);
  });
});
