import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { startSluice, tempDir, type SluiceProcess } from '@sluice/testkit';

/** The session id of a process (Linux /proc: the 6th field of stat). */
const sessionOf = (pid: number | string) => Number(readFileSync(`/proc/${String(pid)}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startSluice', () => {
  let running: SluiceProcess | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await running?.stop();
    await cleanup?.();
  });

  // load:capacity measures its processes each with its own share of the cores (autogroup
  // scheduling shares them between sessions first), and still stops them.
  it.each([
    [{ ownSession: true }, true],
    [{}, false],
  ])('with %j runs in a session of its own: %s, and stop() ends it', async (options, own) => {
    const data = await tempDir('sluice-testkit-');
    cleanup = data.cleanup;
    running = await startSluice('start', { DATA_DIR: data.dir, LOGGING_LEVEL: 'error' }, 30_000, options);
    const pid = running.child.pid!;
    expect(sessionOf(pid) !== sessionOf('self')).toBe(own);
    expect(await running.stop()).toBe(0);
    running = undefined;
    expect(alive(pid)).toBe(false);
  }, 60_000);
});
