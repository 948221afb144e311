import { afterEach, describe, expect, it } from '@jest/globals';
import { profileEventIds as readIds, startSluice, tempDir, trackEvents, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'crash-test-admin-token-123';

let processes: SluiceProcess[] = [];
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const running of processes) await running.stop().catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  processes = [];
  cleanups = [];
});

async function start(dataDir: string): Promise<SluiceProcess> {
  const running = await startSluice('start', { DATA_DIR: dataDir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200' });
  processes.push(running);
  return running;
}

const track = (url: string, profile: string, ids: string[]) => trackEvents(url, profile, ids, 'crash-test');
const profileEventIds = (url: string, profile: string) => readIds(url, profile, ADMIN_TOKEN);

describe('the all-in-one process', () => {
  it('makes events readable through the read API within 2 seconds of the 200 (README quick start)', async () => {
    const { dir, cleanup } = await tempDir('sluice-quickstart-');
    cleanups.push(cleanup);
    const sluice = await start(dir);
    expect(await track(sluice.url, 'quick-profile', ['quick-1'])).toBe(200);
    const acceptedAt = Date.now();
    await waitFor(async () => (await profileEventIds(sluice.url, 'quick-profile')).includes('quick-1'), 2000);
    expect(Date.now() - acceptedAt).toBeLessThan(2000);
  });

  it('keeps every event that got a 200 exactly once across kill -9 and restart', async () => {
    const { dir, cleanup } = await tempDir('sluice-crash-');
    cleanups.push(cleanup);
    const first = await start(dir);
    const acknowledged = new Map<string, string[]>();
    let sent = 0;
    let stop = false;
    const clients = Array.from({ length: 8 }, async (_, client) => {
      const profile = `crash-profile-${client}`;
      acknowledged.set(profile, []);
      for (let request = 0; !stop; request += 1) {
        const ids = Array.from({ length: 5 }, (_, n) => `c${client}-r${request}-e${n}`);
        sent += 1;
        const status = await track(first.url, profile, ids).catch(() => 0);
        if (status === 200) acknowledged.get(profile)?.push(...ids);
      }
    });
    await waitFor(() => sent > 300, 20_000);
    await first.kill9();
    stop = true;
    await Promise.all(clients);

    const second = await start(dir);
    const expected = [...acknowledged.values()].reduce((sum, ids) => sum + ids.length, 0);
    expect(expected).toBeGreaterThan(500);
    for (const [profile, ids] of acknowledged) {
      await waitFor(async () => {
        const stored = new Set(await profileEventIds(second.url, profile));
        return ids.every((id) => stored.has(id));
      }, 20_000, () => `profile ${profile} is missing acknowledged events`);
      const stored = await profileEventIds(second.url, profile);
      expect(new Set(stored).size).toBe(stored.length);
    }
    expect(await second.stop()).toBe(0);
  });
});
