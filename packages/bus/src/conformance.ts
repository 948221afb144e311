import { afterEach, describe, expect, it } from '@jest/globals';
import { decodeDeadLetter } from '@sluice/core';
import { DEAD_LETTER_CODE, DEAD_LETTER_REASON, type Consumer, type ConsumerOptions, type EventBus, type ReceivedMessage } from './port.ts';

/**
 * A place the suite can open buses on: every `open()` returns a new bus instance on the
 * same underlying topics (a restart), `cleanup()` removes them.
 */
export interface BusTestContext {
  open(): Promise<EventBus>;
  cleanup(): Promise<void>;
}

const OPTIONS: ConsumerOptions = { maxUnacked: 100, maxRedeliver: 3, nackDelayMs: 50 };
const encoder = new TextEncoder();

const message = (n: number, key = `k${n % 3}`) => ({ key, payload: encoder.encode(JSON.stringify({ n })), properties: { n: String(n) } });
const numberOf = (received: ReceivedMessage) => (JSON.parse(received.payload.toString('utf8')) as { n: number }).n;

/** Receives until `count` messages arrived or `timeoutMs` passed. */
export async function receiveAll(consumer: Consumer, count: number, timeoutMs = 10_000): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (received.length < count && Date.now() < deadline) received.push(...(await consumer.receive(count - received.length, Math.min(500, deadline - Date.now()))));
  return received;
}

/** The EventBus contract. Every adapter runs it unchanged. */
export function runEventBusConformance(adapterName: string, createContext: () => Promise<BusTestContext>): void {
  describe(`EventBus conformance: ${adapterName}`, () => {
    let context: BusTestContext;
    const opened: EventBus[] = [];
    const open = async () => {
      const bus = await context.open();
      opened.push(bus);
      return bus;
    };

    afterEach(async () => {
      for (const bus of opened.splice(0)) await bus.close();
      await context?.cleanup();
    });

    it('delivers published messages with key, payload and properties, in publish order', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', [message(1), message(2)]);
      await bus.publish('events', [message(3)]);
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      const received = await receiveAll(consumer, 3);
      expect(received.map(numberOf)).toEqual([1, 2, 3]);
      expect(received[0]?.key).toBe('k1');
      expect(received[0]?.properties['n']).toBe('1');
      expect(received[0]?.redeliveryCount).toBe(0);
    });

    it('carries any bytes, and keys and properties with quotes, backslashes, line breaks and non-ASCII text, unchanged', async () => {
      context = await createContext();
      const bus = await open();
      const payload = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const awkward = 'a "quoted" \\ back\nslash\r\n\t\u0001\u2028 é 👍 </script>';
      // A view into a larger buffer: only its own bytes may travel.
      const backing = new Uint8Array(payload.byteLength + 12).fill(0xaa);
      backing.set(payload, 6);
      const view = backing.subarray(6, 6 + payload.byteLength);
      await bus.publish('events', [{ key: awkward, payload: view, properties: { reason: awkward } }]);
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      const [received] = await receiveAll(consumer, 1);
      expect(received?.key).toBe(awkward);
      expect(received?.properties['reason']).toBe(awkward);
      expect(Buffer.compare(received?.payload ?? Buffer.alloc(0), Buffer.from(payload))).toBe(0);
    });

    it('resolves every one of many concurrent publishes and delivers each message once', async () => {
      context = await createContext();
      const bus = await open();
      await Promise.all(Array.from({ length: 200 }, (_, n) => bus.publish('events', [message(n)])));
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      const received: ReceivedMessage[] = [];
      while (received.length < 200) {
        const batch = await receiveAll(consumer, Math.min(100, 200 - received.length));
        if (batch.length === 0) break;
        received.push(...batch);
        for (const item of batch) await consumer.ack(item);
      }
      expect(new Set(received.map(numberOf)).size).toBe(200);
      expect(await consumer.receive(10, 300)).toEqual([]);
    });

    it('delivers a large backlog in order in few receives (reads span log segments)', async () => {
      context = await createContext();
      const bus = await open();
      const filler = 'x'.repeat(1000);
      for (let n = 0; n < 60; n += 10) {
        await bus.publish('events', Array.from({ length: 10 }, (_, i) => ({ key: 'k', payload: encoder.encode(JSON.stringify({ n: n + i, filler })) })));
      }
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      const received = await receiveAll(consumer, 60, 10_000);
      expect(received.map(numberOf)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    });

    it('never hands one consumer more than maxUnacked unacknowledged messages', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', Array.from({ length: 20 }, (_, n) => message(n)));
      const consumer = await bus.consumer('events', 'conformance', { ...OPTIONS, maxUnacked: 5 });
      const first = await receiveAll(consumer, 20, 1500);
      expect(first.length).toBe(5);
      await consumer.ack(first[0] as ReceivedMessage);
      const more = await receiveAll(consumer, 20, 1500);
      expect(more.length).toBe(1);
    });

    it('does not deliver an acknowledged message again, even after a restart', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', [message(1), message(2)]);
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      const received = await receiveAll(consumer, 2);
      await consumer.ack(received[0] as ReceivedMessage);
      await consumer.close();
      await bus.close();
      const reopened = await open();
      const again = await receiveAll(await reopened.consumer('events', 'conformance', OPTIONS), 2, 2000);
      expect(again.map(numberOf)).toEqual([2]);
    });

    it('delivers unacknowledged messages to another consumer once the holder closes', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', [message(1)]);
      const first = await bus.consumer('events', 'conformance', OPTIONS);
      expect((await receiveAll(first, 1)).map(numberOf)).toEqual([1]);
      const second = await bus.consumer('events', 'conformance', OPTIONS);
      expect(await second.receive(1, 300)).toEqual([]);
      await first.close();
      expect((await receiveAll(second, 1)).map(numberOf)).toEqual([1]);
    });

    it('shares a subscription: two consumers never hold the same message at once', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', Array.from({ length: 40 }, (_, n) => message(n)));
      const a = await bus.consumer('events', 'conformance', { ...OPTIONS, maxUnacked: 20 });
      const b = await bus.consumer('events', 'conformance', { ...OPTIONS, maxUnacked: 20 });
      // Both take and ack side by side (a broker may hand a producer batch to one consumer).
      const all: number[] = [];
      const deadline = Date.now() + 10_000;
      while (all.length < 40 && Date.now() < deadline) {
        const [fromA, fromB] = await Promise.all([a.receive(20, 200), b.receive(20, 200)]);
        expect(fromA.length).toBeLessThanOrEqual(20);
        expect(fromB.length).toBeLessThanOrEqual(20);
        all.push(...[...fromA, ...fromB].map(numberOf));
        await Promise.all([...fromA.map((m) => a.ack(m)), ...fromB.map((m) => b.ack(m))]);
      }
      expect(all.length).toBe(40);
      expect(new Set(all).size).toBe(40);
    });

    it('redelivers a nacked message with a higher redelivery count', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', [message(7)]);
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      const [first] = await receiveAll(consumer, 1);
      await consumer.nack(first as ReceivedMessage, { code: 'STORE_UNAVAILABLE', reason: 'transient' });
      const [second] = await receiveAll(consumer, 1, 5000);
      expect(second === undefined ? undefined : numberOf(second)).toBe(7);
      expect(second?.redeliveryCount).toBe(1);
    });

    it('dead-letters a message after maxRedeliver deliveries as a message dead letter: code, reason, origin, attempts, the message byte for byte', async () => {
      context = await createContext();
      const bus = await open();
      // Not UTF-8, not JSON: the dead letter must keep the bytes, not a decoding of them.
      const payload = Uint8Array.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0xc3, 0x28, 0x0a, 0x80]);
      await bus.publish('events', [message(8), { key: 'poison-key', payload, properties: { origin: 'test' } }]);
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      const [good] = await receiveAll(consumer, 1, 5000);
      await consumer.ack(good as ReceivedMessage);
      const failure = { code: 'MESSAGE_INVALID', reason: 'the message is not JSON: Unexpected token' } as const;
      for (let delivery = 0; delivery < OPTIONS.maxRedeliver; delivery += 1) {
        const [received] = await receiveAll(consumer, 1, 5000);
        expect(received?.key).toBe('poison-key');
        await consumer.nack(received as ReceivedMessage, failure);
      }
      expect(await consumer.receive(1, 500)).toEqual([]);
      const deadLetters = await bus.consumer('dead-letters', 'conformance-dlq', OPTIONS);
      const dead = await receiveAll(deadLetters, 2, 3000);
      expect(dead.length).toBe(1);
      const [received] = dead as [ReceivedMessage];
      expect(received.key).toBe('poison-key');
      expect(received.properties[DEAD_LETTER_CODE]).toBe('MESSAGE_INVALID');
      expect(received.properties[DEAD_LETTER_REASON]).toBe(failure.reason);
      const decoded = decodeDeadLetter(received.payload);
      if (!decoded.ok) throw new Error(`not a dead letter: ${decoded.reason}`);
      const { letter } = decoded;
      if (letter.kind !== 'message') throw new Error(`a ${letter.kind} dead letter`);
      expect(letter).toMatchObject({ v: 1, code: 'MESSAGE_INVALID', reason: failure.reason, attempts: OPTIONS.maxRedeliver });
      expect(letter.origin).toMatch(/\S/);
      expect(Math.abs(Date.parse(letter.failedAt) - Date.now())).toBeLessThan(60_000);
      expect(letter.message.key).toBe('poison-key');
      expect(letter.message.properties).toEqual({ origin: 'test' });
      expect(Buffer.from(letter.message.payload, 'base64').equals(Buffer.from(payload))).toBe(true);
    });

    it('gives messages a consumer held back in order when it closes, however often, and never dead-letters them for it', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', Array.from({ length: 5 }, (_, n) => message(n)));
      // More closes than maxRedeliver: only a nack counts towards a dead letter.
      for (let pass = 0; pass < OPTIONS.maxRedeliver + 2; pass += 1) {
        const consumer = await bus.consumer('events', 'conformance', OPTIONS);
        expect((await receiveAll(consumer, 5, 10_000)).map(numberOf)).toEqual([0, 1, 2, 3, 4]);
        await consumer.close();
      }
      const deadLetters = await bus.consumer('dead-letters', 'conformance-dlq', OPTIONS);
      expect(await deadLetters.receive(1, 500)).toEqual([]);
    });

    it('keeps unacknowledged messages across a restart', async () => {
      context = await createContext();
      const bus = await open();
      await bus.publish('events', [message(1), message(2), message(3)]);
      const consumer = await bus.consumer('events', 'conformance', OPTIONS);
      await receiveAll(consumer, 3);
      await bus.close();
      const reopened = await open();
      const again = await receiveAll(await reopened.consumer('events', 'conformance', OPTIONS), 3);
      expect(again.map(numberOf).sort()).toEqual([1, 2, 3]);
    });

    it('closes idempotently and refuses publishes after close with a retryable error', async () => {
      context = await createContext();
      const bus = await open();
      await bus.close();
      await bus.close();
      await expect(bus.publish('events', [message(1)])).rejects.toMatchObject({ retryable: true });
    });

    it('reports its health and adapter name', async () => {
      context = await createContext();
      const bus = await open();
      const health = await bus.health();
      expect(health.ok).toBe(true);
      expect(health.adapter).toBe(adapterName);
    });
  });
}
