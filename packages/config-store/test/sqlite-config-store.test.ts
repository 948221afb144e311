import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteConfigStore } from '../src/index.ts';
import { runConfigStoreConformance } from '../src/conformance.ts';

runConfigStoreConformance('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
  return { store: new SqliteConfigStore(join(dir, 'config.sqlite')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
