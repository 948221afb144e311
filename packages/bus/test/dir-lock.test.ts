import { describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmbeddedBus } from '../src/index.ts';
import { LOCK_STALE_MS } from '../src/embedded/dir-lock.ts';

const topics = { events: 'events', 'dead-letters': 'dead-letters' } as const;
const open = (dir: string) => EmbeddedBus.open({ dir, topics, segmentBytes: 64 * 1024, fsync: false });

/** Another process that opens the bus on `dir` and holds it until killed. */
async function holder(dir: string): Promise<ChildProcess> {
  const busIndex = resolve('packages/bus/src/index.ts');
  const script = `const { EmbeddedBus } = await import(${JSON.stringify(busIndex)});
await EmbeddedBus.open({ dir: ${JSON.stringify(dir)}, topics: ${JSON.stringify(topics)}, segmentBytes: 65536, fsync: false });
process.stdout.write('locked\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolveLocked, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('locked')) resolveLocked();
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the holder exited with ${String(code)}: ${output}`)));
  });
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  child.kill('SIGKILL');
  await exited;
}

describe('the embedded bus directory lock', () => {
  it('refuses a second live process with a clear message, and is taken over soon after its holder is kill -9ed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-lock-'));
    const child = await holder(dir);
    try {
      const refusedAt = Date.now();
      await expect(open(dir)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('in use by another live process') });
      // The holder's heartbeat (every LOCK_STALE_MS / 2) gives it away: no need to wait for staleness.
      expect(Date.now() - refusedAt).toBeLessThan(LOCK_STALE_MS);

      await kill9(child);
      const killedAt = Date.now();
      const bus = await open(dir);
      const waited = Date.now() - killedAt;
      await bus.close();
      expect(waited).toBeLessThan(LOCK_STALE_MS + 3000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) await kill9(child);
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('is not fooled by a PID: a stale lock (and a legacy lock file naming a live process) does not delay the start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-lock-'));
    try {
      // The old lock format named a PID; PID 1 is always alive. It no longer matters.
      await writeFile(join(dir, 'lock'), '1');
      // A heartbeat lock nobody refreshed for a minute: its owner is gone.
      await mkdir(join(dir, '.lock'));
      const minuteAgo = new Date(Date.now() - 60_000);
      await utimes(join(dir, '.lock'), minuteAgo, minuteAgo);
      const startedAt = Date.now();
      const bus = await open(dir);
      expect(Date.now() - startedAt).toBeLessThan(2000);
      await bus.close();
      // Closed cleanly: the next open is immediate too.
      const again = await open(dir);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second open in the same process at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-lock-'));
    const bus = await open(dir);
    try {
      await expect(open(dir)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('already open in this process') });
    } finally {
      await bus.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
