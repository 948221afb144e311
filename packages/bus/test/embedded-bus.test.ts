import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedBus } from '../src/index.ts';
import { runEventBusConformance } from '../src/conformance.ts';

runEventBusConformance('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bus-'));
  return {
    open: () => EmbeddedBus.open({ dir, topics: { events: 'events', 'dead-letters': 'dead-letters' }, segmentBytes: 4096, fsync: true }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('embedded bus reading ahead', () => {
  it('hands out records one at a time from its read-ahead, across segments and a record larger than a read chunk, each once and in order, also after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-bus-'));
    const open = () => EmbeddedBus.open({ dir, topics: { events: 'events', 'dead-letters': 'dead-letters' }, segmentBytes: 64 * 1024, fsync: false });
    const payload = (n: number) => Buffer.from(n === 250 ? `${String(n)}:${'x'.repeat(1_500_000)}` : `${String(n)}:${'y'.repeat(n % 7 === 0 ? 3000 : 100)}`);
    const number = (message: { payload: Buffer }) => Number(message.payload.toString('utf8', 0, 12).split(':')[0]);
    try {
      let bus = await open();
      for (let n = 0; n < 600; n += 50) await bus.publish('events', Array.from({ length: 50 }, (_, i) => ({ key: 'k', payload: payload(n + i) })));
      let consumer = await bus.consumer('events', 'reader', { maxUnacked: 1000, maxRedeliver: 3, nackDelayMs: 10 });
      const seen: number[] = [];
      while (seen.length < 300) {
        const [message] = await consumer.receive(1, 1000);
        if (message === undefined) break;
        seen.push(number(message));
        // Every other one is acked; the rest stay unacked and come back after the restart.
        if (number(message) % 2 === 0) await consumer.ack(message);
      }
      expect(seen).toEqual(Array.from({ length: 300 }, (_, n) => n));
      await consumer.close();
      await bus.close();

      bus = await open();
      consumer = await bus.consumer('events', 'reader', { maxUnacked: 1000, maxRedeliver: 3, nackDelayMs: 10 });
      const after: number[] = [];
      for (;;) {
        const [message] = await consumer.receive(1, 500);
        if (message === undefined) break;
        after.push(number(message));
        await consumer.ack(message);
      }
      const acked = new Set(seen.filter((n) => n % 2 === 0));
      expect(after).toEqual(Array.from({ length: 600 }, (_, n) => n).filter((n) => !acked.has(n)));
      await consumer.close();
      await bus.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
