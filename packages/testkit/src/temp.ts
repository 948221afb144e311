import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A random, engine-safe name: lower-case letters and digits. */
export function randomName(prefix = 't'): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

/** A fresh temporary directory and its removal. */
export async function tempDir(prefix = 'sluice-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
