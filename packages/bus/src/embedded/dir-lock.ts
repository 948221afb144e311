import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { SluiceError } from '@sluice/core';

/**
 * How long a lock may go without its owner refreshing it before another process may take it
 * over, in milliseconds. The owner refreshes it every LOCK_STALE_MS / 2. A lock left by a
 * `kill -9`ed process therefore delays the next start by at most about LOCK_STALE_MS + 1 s.
 */
export const LOCK_STALE_MS = 10_000;

/** How often a waiting start looks at the lock again, in milliseconds. */
const POLL_MS = 500;

/** Opened directories of this process: a second open in-process fails at once. */
const heldHere = new Set<string>();

export interface DirLock {
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock of a directory (one process owns an embedded bus directory).
 *
 * The lock is `proper-lockfile`'s: an atomic `mkdir` of `<dir>/.lock`, whose mtime the owner
 * refreshes. Whether the holder is alive is judged by that heartbeat, never by a PID (which
 * another process may have reused). Waiting for a held lock ends
 * - with the lock, once it has gone LOCK_STALE_MS without a refresh (its owner died);
 * - with a CONFIG_INVALID error as soon as the holder refreshes it (it is alive), which is
 *   within LOCK_STALE_MS / 2.
 *
 * If this process cannot refresh its own lock for LOCK_STALE_MS (for example a frozen event
 * loop) another process may take it over; the lock then reports itself compromised and this
 * process stops (fail-stop), rather than writing to the log beside another owner.
 */
export async function lockDirectory(dir: string): Promise<DirLock> {
  const lockPath = join(dir, '.lock');
  if (heldHere.has(lockPath)) throw new SluiceError('CONFIG_INVALID', `the bus directory ${dir} is already open in this process`);
  const options = {
    stale: LOCK_STALE_MS,
    lockfilePath: lockPath,
    realpath: false,
    onCompromised: (error: Error) => {
      throw new Error(`lost the lock of the bus directory ${dir} (${error.message}); stopping so that two processes never write one log`);
    },
  };
  const startedAt = Date.now();
  let firstSeen: number | undefined;
  for (;;) {
    try {
      const unlock = await lockfile.lock(dir, options);
      heldHere.add(lockPath);
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          heldHere.delete(lockPath);
          await unlock().catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    }
    const refreshedAt = await stat(lockPath).then((info) => info.mtimeMs, () => undefined);
    firstSeen ??= refreshedAt;
    // A dead owner's lock turns stale LOCK_STALE_MS after its last refresh (set a little ahead
    // by proper-lockfile); a lock still held after that is refreshed by a live owner.
    const deadline = Math.max(startedAt, firstSeen ?? startedAt) + LOCK_STALE_MS + 4 * POLL_MS;
    if ((refreshedAt !== undefined && firstSeen !== undefined && refreshedAt > firstSeen) || Date.now() >= deadline) {
      throw new SluiceError('CONFIG_INVALID', `the bus directory ${dir} is in use by another live process (its lock ${lockPath} is being refreshed); one process owns a DATA_DIR`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
