import { afterEach, describe, expect, it } from '@jest/globals';
import { sessionProfileId, type TrackPayload } from '@sluice/core';
import { LruProfileCache, type ProfileCache } from '@sluice/cache';
import { SqliteEventStore } from '@sluice/store';
import { IdentityResolver } from '../src/identity.ts';
import { ProfileDirectory } from '../src/profile-directory.ts';
import { ADMIN_TOKEN, startHarness, trackBody, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const payload = (overrides: Partial<TrackPayload> = {}): TrackPayload => ({ source: { id: 'web' }, session: { id: 's-1' }, events: [{ type: 'page-view' }], ...overrides });

/** A cache whose every call fails, as the Redis cache does while Redis is down. */
class DownCache extends LruProfileCache {
  override async claim(): Promise<string> {
    throw new Error('Connection is closed.');
  }
  override async set(): Promise<void> {
    throw new Error('Command timed out');
  }
}

type TestLogger = { warn: (...args: unknown[]) => unknown; info: (...args: unknown[]) => unknown };
const quiet: TestLogger = { warn: () => undefined, info: () => undefined };
const stores: SqliteEventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** A resolver on `cache` and a throw-away store of its own. */
function resolverOn(cache: ProfileCache, options: { onDegraded?: () => void; logger?: TestLogger } = {}): IdentityResolver {
  const store = new SqliteEventStore({ path: ':memory:', retentionMs: 0 });
  stores.push(store);
  return new IdentityResolver(cache, new ProfileDirectory(cache, store, { ttlSeconds: 60, lookupTimeoutMs: 1000, logger: quiet }), { sessionTtlSeconds: 60, onDegraded: options.onDegraded ?? (() => undefined), logger: options.logger ?? quiet });
}

describe('IdentityResolver', () => {
  it('gives a new session the profile id derived from its source and session, the same on every resolver', async () => {
    const a = resolverOn(new LruProfileCache({ maxEntries: 100 }));
    const b = resolverOn(new LruProfileCache({ maxEntries: 100 }));
    const first = await a.resolve(payload());
    expect(first).toEqual({ profileId: sessionProfileId('web', 's-1'), sessionId: 's-1' });
    // Two caches that never saw each other's claim still agree.
    expect(await b.resolve(payload())).toEqual(first);
    // The same session id of another source is another session, with another profile.
    expect((await a.resolve(payload({ source: { id: 'app' } }))).profileId).not.toBe(first.profileId);
  });

  it('keeps a session on the profile a client bound it to', async () => {
    const resolver = resolverOn(new LruProfileCache({ maxEntries: 100 }));
    expect((await resolver.resolve(payload({ profile: { id: 'p-given' } }))).profileId).toBe('p-given');
    expect((await resolver.resolve(payload())).profileId).toBe('p-given');
  });

  it('degrades when the cache fails: never throws, uses the given or the derived profile, counts and logs once', async () => {
    let degraded = 0;
    const warnings: unknown[] = [];
    const resolver = resolverOn(new DownCache({ maxEntries: 10 }), { onDegraded: () => (degraded += 1), logger: { warn: (...args: unknown[]) => warnings.push(args), info: () => undefined } });
    expect(await resolver.resolve(payload())).toEqual({ profileId: sessionProfileId('web', 's-1'), sessionId: 's-1' });
    expect((await resolver.resolve(payload({ profile: { id: 'p-given' } }))).profileId).toBe('p-given');
    expect(degraded).toBe(2);
    expect(warnings).toHaveLength(1);
  });
});

describe('profile merges (POST /v1/profiles/:id/merge)', () => {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const post = (body: unknown) => h!.api.app.inject({ method: 'POST', url: '/track', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  const merge = (from: string, into: string) => h!.api.app.inject({ method: 'POST', url: `/v1/profiles/${from}/merge`, headers: admin, payload: JSON.stringify({ into }) });
  const profileOf = async (body: unknown) => (await post(body)).json<{ profile: { id: string } }>().profile.id;

  it('resolves a merged profile, given or bound to a session, to its survivor, and shows the merge in the read API', async () => {
    h = await startHarness();
    expect(await profileOf(trackBody({ session: { id: 'anon-session' } }))).toBe(sessionProfileId('demo', 'anon-session'));
    const anonymous = sessionProfileId('demo', 'anon-session');
    const merged = await merge(anonymous, 'user-42');
    expect(merged.statusCode).toBe(200);
    expect(merged.json()).toMatchObject({ from: anonymous, into: 'user-42' });
    // The session bound to the merged profile, and a request naming it, land on the survivor.
    expect(await profileOf(trackBody({ session: { id: 'anon-session' } }))).toBe('user-42');
    expect(await profileOf(trackBody({ session: { id: 'other' }, profile: { id: anonymous } }))).toBe('user-42');
    // Again: idempotent.
    expect((await merge(anonymous, 'user-42')).statusCode).toBe(200);
    const shown = await h.api.app.inject({ method: 'GET', url: `/v1/profiles/${anonymous}`, headers: { authorization: admin.authorization } });
    expect(shown.json()).toMatchObject({ id: anonymous, mergedInto: 'user-42' });
  });

  it('follows chains, merges into the survivor, and refuses a second merge, a cycle and a merge into itself', async () => {
    h = await startHarness();
    expect((await merge('a', 'b')).statusCode).toBe(200);
    expect((await merge('b', 'c')).statusCode).toBe(200);
    expect(await profileOf(trackBody({ profile: { id: 'a' } }))).toBe('c');
    // d into a: recorded as d into c, where a lives now.
    expect((await merge('d', 'a')).json()).toMatchObject({ from: 'd', into: 'c' });
    const again = await merge('a', 'x');
    expect([again.statusCode, again.json<{ code: string }>().code]).toEqual([409, 'CONFLICT']);
    const cycle = await merge('c', 'a');
    expect([cycle.statusCode, cycle.json<{ code: string }>().code]).toEqual([409, 'CONFLICT']);
    expect((await merge('e', 'e')).statusCode).toBe(400);
    // The store is the source of truth: a fresh cache learns the merges from it.
    await h.adapters.cache.delete('profile:a');
    await h.adapters.cache.delete('profile:b');
    expect(await profileOf(trackBody({ profile: { id: 'a' } }))).toBe('c');
    // Each store lookup the tracking path waited for is timed: a and b once each after their
    // entries were dropped; c, never merged, at most once (none once the replica has read the
    // merges: known-merges.test.ts).
    const lookups = await h.metrics.registry.getSingleMetricAsString('sluice_profile_lookup_seconds');
    expect(lookups).toMatch(/^sluice_profile_lookup_seconds_count\{outcome="merged"\} 2$/m);
    expect(Number(/^sluice_profile_lookup_seconds_count\{outcome="not_merged"\} (\d+)$/m.exec(lookups)?.[1] ?? 0)).toBeLessThanOrEqual(1);
  });
});

describe('TRACK_RATE_LIMIT on one replica (embedded cache)', () => {
  const post = (body: unknown) => h!.api.app.inject({ method: 'POST', url: '/track', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  it('answers 429 RATE_LIMITED with Retry-After over the limit, counts the events, and lets the source in again after the window', async () => {
    h = await startHarness({ TRACK_RATE_LIMIT: '10', TRACK_MAX_EVENTS: '5' });
    const fiveEvents = Array.from({ length: 5 }, () => ({ type: 'tick' }));
    expect((await post(trackBody({ events: fiveEvents }))).statusCode).toBe(200);
    expect((await post(trackBody({ events: fiveEvents }))).statusCode).toBe(200);
    const refused = await post(trackBody({ events: [{ type: 'tick' }] }));
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another source has its own allowance.
    await h.adapters.configStore.createSource({ id: 'other', name: 'Other' });
    expect((await post(trackBody({ source: { id: 'other' } }))).statusCode).toBe(200);
    expect(await h.metrics.registry.getSingleMetricAsString('sluice_rate_limited_events_total')).toContain('sluice_rate_limited_events_total{source="demo"} 1');
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers['retry-after']) * 1000 + 50));
    expect((await post(trackBody())).statusCode).toBe(200);
  });

  it('fits a window to the largest request: a limit below TRACK_MAX_EVENTS still takes a full request', async () => {
    h = await startHarness({ TRACK_RATE_LIMIT: '2', TRACK_MAX_EVENTS: '5' });
    expect((await post(trackBody({ events: Array.from({ length: 5 }, () => ({ type: 'tick' })) }))).statusCode).toBe(200);
    expect((await post(trackBody())).statusCode).toBe(200);
    const refused = await post(trackBody());
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3);
  });

  it('takes a source\'s own rateLimit over TRACK_RATE_LIMIT, both ways', async () => {
    h = await startHarness({ TRACK_RATE_LIMIT: '1000', TRACK_MAX_EVENTS: '5' });
    await h.adapters.configStore.createSource({ id: 'slow', name: 'Slow', rateLimit: 5 });
    await h.adapters.configStore.createSource({ id: 'open', name: 'Open' });
    const fiveEvents = Array.from({ length: 5 }, () => ({ type: 'tick' }));
    expect((await post(trackBody({ source: { id: 'slow' }, events: fiveEvents }))).statusCode).toBe(200);
    const refused = await post(trackBody({ source: { id: 'slow' } }));
    expect([refused.statusCode, refused.json<{ message: string }>().message]).toEqual([429, 'source slow is over its rate limit of 5 events/s']);
    // Its neighbour keeps the default of 1000/s.
    for (let i = 0; i < 4; i += 1) expect((await post(trackBody({ source: { id: 'open' }, events: fiveEvents }))).statusCode).toBe(200);
  });

  it('has no limit by default', async () => {
    h = await startHarness();
    for (let i = 0; i < 50; i += 1) expect((await post(trackBody())).statusCode).toBe(200);
  });
});
