import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createLogger } from '@sluice/observability';
import { freePort } from '@sluice/testkit';
import { EmbeddedBus, PulsarWsBus, SpooledBus } from '../src/index.ts';

// The primary is a Pulsar bus whose broker is absent (nothing listens on its port): every
// publish is refused, as when the broker is down.
const topics = { events: 'events', 'dead-letters': 'dead-letters' } as const;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function spooledBus(maxBytes: number): Promise<SpooledBus> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-spool-'));
  const primary = new PulsarWsBus({ webServiceUrl: `http://127.0.0.1:${String(await freePort())}`, tenant: 'public', namespace: 'absent', topics, sendTimeoutMs: 1000 });
  const spool = await EmbeddedBus.open({ dir, topics, segmentBytes: 64 * 1024, fsync: true });
  const bus = new SpooledBus(primary, spool, { handoverMs: 200, maxBytes, readyBelow: 0.5, openCircuitMs: 60_000, logger: createLogger('critical') });
  cleanup = async () => {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  };
  return bus;
}

const message = (n: number) => ({ key: `k${String(n)}`, payload: Buffer.from(JSON.stringify({ events: [{ n, filler: 'x'.repeat(900) }] })) });

describe('SpooledBus with the broker away', () => {
  it('accepts into the spool, fails readiness past the threshold, and refuses with BUS_UNAVAILABLE when full', async () => {
    const bus = await spooledBus(20 * 1024);
    await bus.publish('events', [message(0)]);
    let health = await bus.health();
    expect(health.ok).toBe(true);
    expect(health.detail).toMatchObject({ primaryOk: false, spool: { spooled: 1 } });

    let accepted = 1;
    let refused: unknown;
    while (refused === undefined && accepted < 100) {
      try {
        await bus.publish('events', [message(accepted)]);
        accepted += 1;
        if (accepted === 12) {
          health = await bus.health();
          expect(health.ok).toBe(false);
          expect(health.error).toMatch(/spool is \d+ % full/);
        }
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toMatchObject({ code: 'BUS_UNAVAILABLE', retryable: true });
    expect(accepted).toBeGreaterThan(12);
    expect(accepted).toBeLessThan(30);
  });
});
