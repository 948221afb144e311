// Jest only: it reads with the bus conformance suite's helpers (which import @jest/globals),
// so it is the subpath `@sluice/testkit/published`, not part of the package's main entry
// that benchmarks and scripts load outside Jest.
import { receiveAll } from '@sluice/bus/conformance';
import type { EventBus } from '@sluice/bus';
import { decodeDeadLetter, decodeEventsMessage, type DeadLetter, type TrackedEvent } from '@sluice/core';

// What an API published, read back from the bus as the storage worker and `sluice dlq` would
// decode it: for tests that run the API in process, with no worker.

/** `count` messages' tracked events from the `events` output (subscription `test`), waiting at most `timeoutMs`; throws on a message the worker could not decode. */
export async function publishedEvents(bus: EventBus, count: number, timeoutMs = 2000): Promise<TrackedEvent[]> {
  const consumer = await bus.consumer('events', 'test', { maxUnacked: 1000, maxRedeliver: 3, nackDelayMs: 10 });
  const received = await receiveAll(consumer, count, timeoutMs);
  await consumer.close();
  return received.flatMap((message) => {
    const decoded = decodeEventsMessage(message.payload);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.events;
  });
}

/** `count` dead letters from the `dead-letters` output (subscription `test`), decoded; throws on one that does not decode. */
export async function publishedDeadLetters(bus: EventBus, count: number, timeoutMs = 2000): Promise<DeadLetter[]> {
  const consumer = await bus.consumer('dead-letters', 'test', { maxUnacked: 1000, maxRedeliver: 3, nackDelayMs: 10 });
  const received = await receiveAll(consumer, count, timeoutMs);
  await consumer.close();
  return received.map((message) => {
    const decoded = decodeDeadLetter(message.payload);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.letter;
  });
}
