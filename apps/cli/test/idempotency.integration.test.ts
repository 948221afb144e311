// A 503 means "not stored": under load with a publish timeout so short that requests time
// out while their publish still lands, clients that retry every 503 with the same body get
// every event stored exactly once.
import { afterEach, describe, expect, it } from '@jest/globals';
import { startSluice, tempDir, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'idempotency-test-admin-token-1';

let processes: SluiceProcess[] = [];
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const running of processes) await running.stop().catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  processes = [];
  cleanups = [];
});

/** Every event of a profile, as the read API pages them out. */
async function storedEvents(url: string, profile: string): Promise<{ id: string; properties: { marker?: string } }[]> {
  const events: { id: string; properties: { marker?: string } }[] = [];
  let cursor: string | undefined;
  do {
    const response = await fetch(`${url}/v1/profiles/${profile}/events?limit=1000${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const page = (await response.json()) as { events: { id: string; properties: { marker?: string } }[]; next?: string };
    events.push(...page.events);
    cursor = page.next;
  } while (cursor !== undefined);
  return events;
}

describe('a 503 means not stored', () => {
  it('stores every event exactly once when clients retry the 503s of a 10 ms BUS_PUBLISH_TIMEOUT under load', async () => {
    const { dir, cleanup } = await tempDir('sluice-503-');
    cleanups.push(cleanup);
    const sluice = await startSluice('start', { DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', BUS_PUBLISH_TIMEOUT: '10', STORAGE_FLUSH_INTERVAL: '100' });
    processes.push(sluice);
    let unavailable = 0;
    const clients = 24;
    const requestsPerClient = 40;
    // Rounds of load until the timeout has fired at least once (a fast machine may answer a
    // whole round within 10 ms a request): the test means something only if it did.
    let rounds = 0;
    while (unavailable === 0 && rounds < 6) {
      const round = rounds;
      rounds += 1;
      await Promise.all(Array.from({ length: clients }, async (_, client) => {
        for (let request = 0; request < requestsPerClient; request += 1) {
          // Server-chosen ids (no event id in the body), as browsers send them.
          const body = JSON.stringify({ source: { id: 'demo' }, session: { id: `s-${client}` }, profile: { id: `retry-profile-${client % 4}` }, events: [0, 1, 2].map((n) => ({ type: 'retry-test', properties: { marker: `${round}-${client}-${request}-${n}` } })) });
          for (let attempt = 0; ; attempt += 1) {
            const response = await fetch(`${sluice.url}/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
            if (response.status === 200) break;
            expect([response.status, ((await response.json()) as { code: string }).code]).toEqual([503, 'BUS_UNAVAILABLE']);
            unavailable += 1;
            expect(attempt).toBeLessThan(200);
          }
        }
      }));
    }
    expect(unavailable).toBeGreaterThan(0);
    const expected = rounds * clients * requestsPerClient * 3;
    const markers = new Map<string, number>();
    await waitFor(async () => {
      markers.clear();
      for (let profile = 0; profile < 4; profile += 1) for (const event of await storedEvents(sluice.url, `retry-profile-${profile}`)) markers.set(event.properties.marker ?? '', (markers.get(event.properties.marker ?? '') ?? 0) + 1);
      return markers.size === expected;
    }, 30_000, () => `${markers.size} of ${expected} events stored`);
    const duplicated = [...markers].filter(([, count]) => count > 1);
    expect(duplicated).toEqual([]);
  }, 180_000);
});
