import { describe, expect, it } from '@jest/globals';
import { SluiceError, decodeEventsMessage, encodeReceived } from '@sluice/core';
import { partitionOfKey } from '../src/pulsar/key-partition.ts';
import { GroupingBus, type Consumer, type EventBus, type OutgoingMessage, type OutputName } from '../src/index.ts';

/**
 * The bus below the grouping, at its boundary: records each publish and settles it only
 * when the test says so (the broker's acknowledgement, or its refusal).
 */
class HeldBus implements EventBus {
  readonly published: { output: OutputName; messages: readonly OutgoingMessage[]; ack: () => void; refuse: (error: Error) => void }[] = [];

  publish(output: OutputName, messages: readonly OutgoingMessage[]): Promise<void> {
    return new Promise((resolve, reject) => this.published.push({ output, messages, ack: resolve, refuse: reject }));
  }

  consumer(): Promise<Consumer> {
    throw new Error('not used');
  }

  async health() {
    return { ok: true, adapter: 'held' };
  }

  async close(): Promise<void> {}
}

/** A /track request's message as the API publishes it: one event, `filler` bytes of properties. */
function request(n: number, filler = 10): OutgoingMessage {
  const body = `{"source":{"id":"web"},"events":[{"type":"view","properties":{"n":${String(n)},"filler":"${'x'.repeat(filler)}"}}]}`;
  const payload = Buffer.from(encodeReceived({ profileId: `p${String(n)}`, sessionId: 's', receivedAt: '2026-01-01T00:00:00.000Z', metadata: {}, ids: [`e${String(n)}`] }, body));
  return { key: `p${String(n)}`, payload, groupable: { events: 1 } };
}

/** Which of `promises` have settled, and how, after pending callbacks ran. */
async function states(promises: readonly Promise<void>[]): Promise<string[]> {
  const seen = promises.map(() => 'pending');
  promises.forEach((promise, index) => promise.then(() => (seen[index] = 'ok'), (error: unknown) => (seen[index] = (error as Error).message)));
  await new Promise((resolve) => setImmediate(resolve));
  return seen;
}

const eventIdsOf = (message: OutgoingMessage | undefined) => {
  const decoded = decodeEventsMessage(message!.payload);
  return decoded.ok ? decoded.events.map((event) => event.id) : decoded.reason;
};

describe('GroupingBus', () => {
  it('sends requests published within the linger as one batch message, and answers none of them before that message is acknowledged', async () => {
    const inner = new HeldBus();
    const bus = new GroupingBus(inner, { lingerMs: 20, maxBytes: 64 * 1024, maxEvents: 100, partitions: 1 });
    const publishes = [1, 2, 3].map((n) => bus.publish('events', [request(n)]));
    expect(inner.published).toHaveLength(0); // lingering
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(inner.published).toHaveLength(1);
    const [group] = inner.published;
    expect(group!.output).toBe('events');
    expect(group!.messages).toHaveLength(1);
    expect(group!.messages[0]!.key).toBe('p1');
    expect(eventIdsOf(group!.messages[0])).toEqual(['e1', 'e2', 'e3']);
    expect(await states(publishes)).toEqual(['pending', 'pending', 'pending']);
    group!.ack();
    expect(await states(publishes)).toEqual(['ok', 'ok', 'ok']);
  });

  it('fails every request of a group the bus refused, with its error', async () => {
    const inner = new HeldBus();
    const bus = new GroupingBus(inner, { lingerMs: 0, maxBytes: 64 * 1024, maxEvents: 100, partitions: 1 });
    const publishes = [1, 2, 3, 4].map((n) => bus.publish('events', [request(n)]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(inner.published).toHaveLength(1);
    inner.published[0]!.refuse(new SluiceError('BUS_UNAVAILABLE', 'refused by the broker'));
    expect(await states(publishes)).toEqual(Array(4).fill('refused by the broker'));
  });

  it('cuts groups at maxEvents and maxBytes, and sends a request a group cannot hold alone, as it is', async () => {
    const inner = new HeldBus();
    const bus = new GroupingBus(inner, { lingerMs: 1000, maxBytes: 2048, maxEvents: 3, partitions: 1 });
    const publishes = [1, 2, 3, 4].map((n) => bus.publish('events', [request(n)]));
    expect(inner.published.map((publish) => eventIdsOf(publish.messages[0]))).toEqual([['e1', 'e2', 'e3']]); // full: sent without waiting
    const large = request(5, 1700);
    publishes.push(bus.publish('events', [large])); // does not fit beside e4: e4 leaves first
    publishes.push(bus.publish('events', [request(6, 5000)])); // larger than any group
    expect(inner.published.map((publish) => eventIdsOf(publish.messages[0]))).toEqual([['e1', 'e2', 'e3'], ['e4'], ['e6']]);
    expect(inner.published[2]!.messages[0]).toEqual({ ...request(6, 5000) }); // untouched
    await bus.close(); // sends the open group
    expect(inner.published[3]!.messages[0]!.payload).toEqual(large.payload); // a group of one is the message itself
    for (const publish of inner.published) publish.ack();
    expect(await states(publishes)).toEqual(Array(6).fill('ok'));
  });

  it('passes through, at once and untouched, what is not a groupable events message', async () => {
    const inner = new HeldBus();
    const bus = new GroupingBus(inner, { lingerMs: 1000, maxBytes: 64 * 1024, maxEvents: 100, partitions: 1 });
    const raw = { key: 'k', payload: Buffer.from('not json') };
    const withProperties = { ...request(1), properties: { origin: 'replay' } };
    const letter = { ...request(2) };
    void bus.publish('events', [raw]);
    void bus.publish('events', [withProperties]);
    void bus.publish('dead-letters', [letter]);
    void bus.publish('events', [request(3), request(4)]);
    expect(inner.published.map((publish) => [publish.output, publish.messages])).toEqual([
      ['events', [raw]],
      ['events', [withProperties]],
      ['dead-letters', [letter]],
      ['events', [request(3), request(4)]],
    ]);
  });

  it('groups a request only with others bound for the same partition, each group keyed for that partition, each answered with its own acknowledgement', async () => {
    const inner = new HeldBus();
    const bus = new GroupingBus(inner, { lingerMs: 1000, maxBytes: 64 * 1024, maxEvents: 100, partitions: 4 });
    const requests = Array.from({ length: 24 }, (_, n) => request(n));
    const answers = requests.map((message) => bus.publish('events', [message]));
    await bus.close();
    const partitions = new Set(requests.map((message) => partitionOfKey(message.key, 4)));
    expect(partitions.size).toBeGreaterThan(1);
    expect(inner.published).toHaveLength(partitions.size);
    for (const publish of inner.published) {
      const [group] = publish.messages;
      const ids = eventIdsOf(group) as string[];
      // Every request in a group is on the partition its group is keyed for.
      expect(ids.map((id) => partitionOfKey(`p${id.slice(1)}`, 4))).toEqual(ids.map(() => partitionOfKey(group!.key, 4)));
    }
    expect(inner.published.flatMap((publish) => eventIdsOf(publish.messages[0]) as string[]).sort()).toEqual(requests.map((_, n) => `e${String(n)}`).sort());
    inner.published[0]!.ack();
    const settled = await states(answers);
    const first = new Set(eventIdsOf(inner.published[0]!.messages[0]) as string[]);
    expect(settled).toEqual(requests.map((_, n) => (first.has(`e${String(n)}`) ? 'ok' : 'pending')));
  });
});

describe('partitionOfKey', () => {
  it("is Pulsar's JavaStringHash routing: Java's String.hashCode() of the key, sign bit cleared, modulo the partitions", () => {
    // Values of Java's String.hashCode(): "hello" 99162322, "Hello World" -862545276,
    // "polygenelubricants" Integer.MIN_VALUE, "é" 233, "😀" (two UTF-16 units) 1772899.
    expect(partitionOfKey('hello', 1000)).toBe(99162322 % 1000);
    expect(partitionOfKey('Hello World', 1000)).toBe((-862545276 & 0x7fffffff) % 1000);
    expect(partitionOfKey('polygenelubricants', 7)).toBe(0);
    expect(partitionOfKey('é', 1000)).toBe(233);
    expect(partitionOfKey('😀', 1000000)).toBe(772899);
    expect(partitionOfKey('', 4)).toBe(0);
    expect(partitionOfKey('anything', 1)).toBe(0);
  });
});
