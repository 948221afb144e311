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
