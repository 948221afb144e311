// The Segment-protocol SDKs' assertions, run unchanged against any running Sluice: the
// embedded `sluice start` (sdk-segment.integration.test.ts) and the production topology,
// Pulsar, Redis and Elasticsearch (sdk-segment-production.integration.test.ts). The real SDKs
// from npm, unmodified: @segment/analytics-node (Basic auth and writeKey in the body, JSON)
// and @rudderstack/rudder-sdk-node (Basic auth, a gzipped body labelled
// application/x-www-form-urlencoded). Every call is read back from the store by its
// messageId: stored once (a resend too), properties and traits intact, identities bound and
// merged and shown on the profile; an event too large for Segment's limit is dead-lettered
// while its neighbours are stored.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { anonymousProfileId, userProfileId } from '@sluice/core';
import { waitFor } from '@sluice/testkit';

export const SDK_ADMIN_TOKEN = 'sdk-test-admin-token-0123456789';
const NAME = 'Coupon Applied (10% off) – Sommer/2025';

/** A running Sluice the suite sends to (admin token SDK_ADMIN_TOKEN), and how to let it go. */
export interface SdkTarget {
  readonly url: string;
  stop(): Promise<void>;
  /** Drops every cache entry of this Sluice (where the cache is shared), to show what survives a flush; how many it dropped. */
  flushCache?(): Promise<number>;
}

let target: SdkTarget | undefined;
const admin = { authorization: `Bearer ${SDK_ADMIN_TOKEN}`, 'content-type': 'application/json' };

/** Registers the suite: `start` runs once before it (sources `server` and `rudder` are created), `stop` after. */
export function runSdkSuite(topology: string, start: () => Promise<SdkTarget>): void {
  beforeAll(async () => {
    target = await start();
    for (const id of ['server', 'rudder']) {
      const created = await fetch(`${target.url}/v1/sources`, { method: 'POST', headers: admin, body: JSON.stringify({ id, name: id, allowedOrigins: [] }) });
      expect(created.status).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await target?.stop();
    target = undefined;
  }, 60_000);

  describe(`@segment/analytics-node on ${topology}`, analyticsNode);
  describe(`@rudderstack/rudder-sdk-node on ${topology}`, rudderSdkNode);
}

const sluiceUrl = (): string => {
  if (target === undefined) throw new Error('no Sluice running');
  return target.url;
};

interface StoredEvent {
  id: string;
  type: string;
  sourceId: string;
  profileId: string;
  properties: Record<string, unknown>;
  context: { segment?: Record<string, unknown> } & Record<string, unknown>;
}

/** The event stored under `messageId` in `source`, waiting for the worker. */
async function stored(source: string, messageId: string): Promise<StoredEvent> {
  let event: StoredEvent | undefined;
  await waitFor(async () => {
    const response = await fetch(`${sluiceUrl()}/v1/sources/${source}/events/${encodeURIComponent(messageId)}`, { headers: admin });
    if (response.status !== 200) return false;
    event = (await response.json()) as StoredEvent;
    return true;
  }, 15_000, () => `event ${messageId} of ${source} was not stored`);
  return event!;
}

async function profileEventIds(profileId: string): Promise<string[]> {
  const response = await fetch(`${sluiceUrl()}/v1/profiles/${profileId}/events?limit=100`, { headers: admin });
  return ((await response.json()) as { events: { id: string }[] }).events.map((event) => event.id).sort();
}

/** Waits until the read API shows the profile with exactly these Segment ids (Elasticsearch shows them a refresh after the write). */
async function expectProfileIds(profileId: string, expected: { anonymousIds: string[]; userIds: string[] }): Promise<void> {
  let shown: unknown;
  await waitFor(async () => {
    const profile = (await (await fetch(`${sluiceUrl()}/v1/profiles/${profileId}`, { headers: admin })).json()) as { anonymousIds?: string[]; userIds?: string[] };
    shown = { anonymousIds: profile.anonymousIds, userIds: profile.userIds };
    // Compared as JSON: fetch's arrays come from another realm than Jest's.
    return JSON.stringify(shown) === JSON.stringify(expected);
  }, 15_000, () => `profile ${profileId} shows ${JSON.stringify(shown)}, not ${JSON.stringify(expected)}`);
}

async function metric(line: string): Promise<number> {
  const text = await (await fetch(`${sluiceUrl()}/metrics`, { headers: admin })).text();
  const found = text.split('\n').find((candidate) => candidate.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length).trim());
}

function analyticsNode(): void {
  it('tracks, pages, identifies, groups and aliases; every event stored once under its messageId, identity bound', async () => {
    const failures: unknown[] = [];
    const client = () => {
      const analytics = new Analytics({ writeKey: 'server', host: sluiceUrl(), flushAt: 15, flushInterval: 200, maxRetries: 2 });
      analytics.on('error', (error) => failures.push(error));
      return analytics;
    };
    const anonymousId = randomUUID();
    const userId = `ana+${randomUUID()}@example.com`;
    const oldUserId = `old-${randomUUID()}`;
    const ids = { page: randomUUID(), track: randomUUID(), identify: randomUUID(), after: randomUUID(), group: randomUUID(), old: randomUUID(), alias: randomUUID() };
    const before = client();
    before.page({ messageId: ids.page, anonymousId, name: 'Home', properties: { path: '/' } });
    before.track({ messageId: ids.track, anonymousId, event: NAME, properties: { coupon: 'SOMMER10', nested: { a: [1, 2] } } });
    before.identify({ messageId: ids.identify, anonymousId, userId, traits: { plan: 'pro', email: userId } });
    before.track({ messageId: ids.after, anonymousId, event: 'After identify' });
    await before.closeAndFlush();
    expect(failures).toEqual([]);
    // After identify, the user's profile is known by both ids; the anonymous one by its own.
    await expectProfileIds(userProfileId(userId), { anonymousIds: [anonymousId], userIds: [userId] });
    await expectProfileIds(anonymousProfileId('server', anonymousId), { anonymousIds: [anonymousId], userIds: [] });

    const later = client();
    later.group({ messageId: ids.group, userId, groupId: 'acme', traits: { seats: 5 } });
    later.track({ messageId: ids.old, userId: oldUserId, event: 'Before alias' });
    later.alias({ messageId: ids.alias, previousId: oldUserId, userId });
    await later.closeAndFlush();
    expect(failures).toEqual([]);
    // After alias, the old user id shows on the survivor too (its events stay on the merged profile).
    await expectProfileIds(userProfileId(userId), { anonymousIds: [anonymousId], userIds: [userId, oldUserId].sort() });

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
    for (const merged of [anonymousProfileId('server', anonymousId), userProfileId(oldUserId)]) {
      const profile = (await (await fetch(`${sluiceUrl()}/v1/profiles/${merged}`, { headers: admin })).json()) as { mergedInto?: string };
      expect(profile.mergedInto).toBe(userProfileId(userId));
    }
    // The store is the truth: with the cache flushed, the profile shows the same.
    if (target?.flushCache !== undefined) {
      expect(await target.flushCache()).toBeGreaterThan(0);
      await expectProfileIds(userProfileId(userId), { anonymousIds: [anonymousId], userIds: [userId, oldUserId].sort() });
    }

    // A resend of the same messages (an SDK retry) is stored once.
    const again = new Analytics({ writeKey: 'server', host: sluiceUrl(), flushAt: 15, flushInterval: 200 });
    again.track({ messageId: ids.track, anonymousId, event: NAME, properties: { coupon: 'SOMMER10', nested: { a: [1, 2] } } });
    await again.closeAndFlush();
    const marker = randomUUID();
    const last = new Analytics({ writeKey: 'server', host: sluiceUrl(), flushAt: 15, flushInterval: 200 });
    last.track({ messageId: marker, anonymousId, event: 'marker' });
    await last.closeAndFlush();
    await stored('server', marker);
    expect((await profileEventIds(anonymousProfileId('server', anonymousId))).filter((id) => id === ids.track)).toHaveLength(1);
  }, 60_000);
}

function rudderSdkNode(): void {
  it('sends gzipped batches that are stored; a too-large event is dead-lettered and its neighbours stored', async () => {
    const errors: unknown[] = [];
    // The SDK keeps a messageId it is given (as every Segment-protocol SDK does), though its types leave it out.
    const client = new RudderAnalytics('rudder', { dataPlaneUrl: sluiceUrl(), flushAt: 20, flushInterval: 200, logLevel: 'error', errorHandler: (error: unknown) => errors.push(error) }) as unknown as { track(message: object): void; page(message: object): void; identify(message: object): void; flush(): Promise<void> };
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
    await expectProfileIds(userProfileId(userId), { anonymousIds: [anonymousId], userIds: [userId] });
    const huge = await fetch(`${sluiceUrl()}/v1/sources/rudder/events/${ids[2]!}`, { headers: admin });
    expect(huge.status).toBe(404);
    expect(await metric('sluice_dead_letters_total{code="SEGMENT_EVENT_TOO_LARGE",kind="event"}')).toBe(deadBefore + 1);
  }, 60_000);
}
