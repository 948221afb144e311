// The real Segment-protocol SDKs from npm, unmodified, pointed at a running Sluice
// (`sluice start`: embedded bus and SQLite store): @segment/analytics-node (Basic auth and
// writeKey in the body, JSON) and @rudderstack/rudder-sdk-node (Basic auth, a gzipped body
// labelled application/x-www-form-urlencoded). Every call is read back from the store by its
// messageId: stored once (a resend too), properties and traits intact, identities bound and
// merged; an event too large for Segment's limit is dead-lettered while its neighbours are
// stored.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { anonymousProfileId, userProfileId } from '@sluice/core';
import { startSluice, tempDir, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'sdk-test-admin-token-0123456789';
const NAME = 'Coupon Applied (10% off) – Sommer/2025';

interface StoredEvent {
  id: string;
  type: string;
  sourceId: string;
  profileId: string;
  properties: Record<string, unknown>;
  context: { segment?: Record<string, unknown> } & Record<string, unknown>;
}

let sluice: SluiceProcess | undefined;
let cleanup: (() => Promise<void>) | undefined;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

beforeAll(async () => {
  const data = await tempDir('sluice-sdk-');
  cleanup = data.cleanup;
  sluice = await startSluice('start', { DATA_DIR: data.dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100', DEMO_SOURCE: 'false' });
  for (const id of ['server', 'rudder']) {
    const created = await fetch(`${sluice.url}/v1/sources`, { method: 'POST', headers: admin, body: JSON.stringify({ id, name: id, allowedOrigins: [] }) });
    expect(created.status).toBe(201);
  }
}, 60_000);
afterAll(async () => {
  await sluice?.stop();
  await cleanup?.();
});

/** The event stored under `messageId` in `source`, waiting for the worker. */
async function stored(source: string, messageId: string): Promise<StoredEvent> {
  let event: StoredEvent | undefined;
  await waitFor(async () => {
    const response = await fetch(`${sluice!.url}/v1/sources/${source}/events/${encodeURIComponent(messageId)}`, { headers: admin });
    if (response.status !== 200) return false;
    event = (await response.json()) as StoredEvent;
    return true;
  }, 15_000, () => `event ${messageId} of ${source} was not stored`);
  return event!;
}

async function profileEventIds(profileId: string): Promise<string[]> {
  const response = await fetch(`${sluice!.url}/v1/profiles/${profileId}/events?limit=100`, { headers: admin });
  return ((await response.json()) as { events: { id: string }[] }).events.map((event) => event.id).sort();
}

async function metric(line: string): Promise<number> {
  const text = await (await fetch(`${sluice!.url}/metrics`, { headers: admin })).text();
  const found = text.split('\n').find((candidate) => candidate.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length).trim());
}

describe('@segment/analytics-node', () => {
  it('tracks, pages, identifies, groups and aliases; every event stored once under its messageId, identity bound', async () => {
    const analytics = new Analytics({ writeKey: 'server', host: sluice!.url, flushAt: 15, flushInterval: 200, maxRetries: 2 });
    const failures: unknown[] = [];
    analytics.on('error', (error) => failures.push(error));
    const anonymousId = randomUUID();
    const userId = `ana+${randomUUID()}@example.com`;
    const ids = { page: randomUUID(), track: randomUUID(), identify: randomUUID(), after: randomUUID(), group: randomUUID(), old: randomUUID(), alias: randomUUID() };
    analytics.page({ messageId: ids.page, anonymousId, name: 'Home', properties: { path: '/' } });
    analytics.track({ messageId: ids.track, anonymousId, event: NAME, properties: { coupon: 'SOMMER10', nested: { a: [1, 2] } } });
    analytics.identify({ messageId: ids.identify, anonymousId, userId, traits: { plan: 'pro', email: userId } });
    analytics.track({ messageId: ids.after, anonymousId, event: 'After identify' });
    analytics.group({ messageId: ids.group, userId, groupId: 'acme', traits: { seats: 5 } });
    analytics.track({ messageId: ids.old, userId: 'old-user-id', event: 'Before alias' });
    analytics.alias({ messageId: ids.alias, previousId: 'old-user-id', userId });
    await analytics.closeAndFlush();
    expect(failures).toEqual([]);

    const track = await stored('server', ids.track);
    expect(track).toMatchObject({ type: 'track', sourceId: 'server', properties: { coupon: 'SOMMER10', nested: { a: [1, 2] } }, context: { library: { name: '@segment/analytics-node' }, segment: { event: NAME, anonymousId, messageId: ids.track } } });
    expect(track.profileId).toBe(anonymousProfileId('server', anonymousId));
    const identify = await stored('server', ids.identify);
    expect(identify).toMatchObject({ type: 'identify', profileId: userProfileId(userId), context: { segment: { userId, traits: { plan: 'pro', email: userId } } } });
    expect((await stored('server', ids.after)).profileId).toBe(userProfileId(userId));
    expect(await stored('server', ids.group)).toMatchObject({ type: 'group', context: { segment: { groupId: 'acme', traits: { seats: 5 } } } });
    expect((await stored('server', ids.alias)).profileId).toBe(userProfileId(userId));
    expect((await stored('server', ids.page)).context.segment).toMatchObject({ name: 'Home' });
    // The anonymous and old profiles were merged into the user's.
    for (const merged of [anonymousProfileId('server', anonymousId), userProfileId('old-user-id')]) {
      const profile = (await (await fetch(`${sluice!.url}/v1/profiles/${merged}`, { headers: admin })).json()) as { mergedInto?: string };
      expect(profile.mergedInto).toBe(userProfileId(userId));
    }

    // A resend of the same messages (an SDK retry) is stored once.
    const again = new Analytics({ writeKey: 'server', host: sluice!.url, flushAt: 15, flushInterval: 200 });
    again.track({ messageId: ids.track, anonymousId, event: NAME, properties: { coupon: 'SOMMER10', nested: { a: [1, 2] } } });
    await again.closeAndFlush();
    const marker = randomUUID();
    const last = new Analytics({ writeKey: 'server', host: sluice!.url, flushAt: 15, flushInterval: 200 });
    last.track({ messageId: marker, anonymousId, event: 'marker' });
    await last.closeAndFlush();
    await stored('server', marker);
    expect((await profileEventIds(anonymousProfileId('server', anonymousId))).filter((id) => id === ids.track)).toHaveLength(1);
  }, 60_000);
});

describe('@rudderstack/rudder-sdk-node', () => {
  it('sends gzipped batches that are stored; a too-large event is dead-lettered and its neighbours stored', async () => {
    const errors: unknown[] = [];
    // The SDK keeps a messageId it is given (as every Segment-protocol SDK does), though its types leave it out.
    const client = new RudderAnalytics('rudder', { dataPlaneUrl: sluice!.url, flushAt: 20, flushInterval: 200, logLevel: 'error', errorHandler: (error: unknown) => errors.push(error) }) as unknown as { track(message: object): void; page(message: object): void; identify(message: object): void; flush(): Promise<void> };
    const anonymousId = randomUUID();
    const userId = `user-${randomUUID()}`;
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const deadBefore = await metric('sluice_dead_letters_total{code="SEGMENT_EVENT_TOO_LARGE",kind="event"}');
    client.track({ messageId: ids[0], anonymousId, event: NAME, properties: { price: 9.5 } });
    client.page({ messageId: ids[1], anonymousId, name: 'Pricing', properties: { url: 'https://example.com/pricing' } });
    client.track({ messageId: ids[2], anonymousId, event: 'Huge', properties: { blob: 'x'.repeat(40 * 1024) } });
    client.identify({ messageId: ids[3], anonymousId, userId, traits: { name: 'Ana' } });
    client.track({ messageId: ids[4], userId, event: 'Paid', properties: { amount: 10 } });
    await client.flush();
    expect(errors).toEqual([]);

    expect(await stored('rudder', ids[0]!)).toMatchObject({ type: 'track', profileId: anonymousProfileId('rudder', anonymousId), properties: { price: 9.5 }, context: { segment: { event: NAME } } });
    expect((await stored('rudder', ids[1]!)).context.segment).toMatchObject({ name: 'Pricing' });
    expect((await stored('rudder', ids[3]!)).profileId).toBe(userProfileId(userId));
    expect((await stored('rudder', ids[4]!)).profileId).toBe(userProfileId(userId));
    const huge = await fetch(`${sluice!.url}/v1/sources/rudder/events/${ids[2]!}`, { headers: admin });
    expect(huge.status).toBe(404);
    expect(await metric('sluice_dead_letters_total{code="SEGMENT_EVENT_TOO_LARGE",kind="event"}')).toBe(deadBefore + 1);
  }, 60_000);
});
