import { afterEach, describe, expect, it } from '@jest/globals';
import { sessionProfileId, type TrackPayload } from '@sluice/core';
import { LruProfileCache } from '@sluice/cache';
import { IdentityResolver } from '../src/identity.ts';
import { startHarness, trackBody, type Harness } from './harness.ts';

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

describe('IdentityResolver', () => {
  const quiet = { warn: () => undefined, info: () => undefined };

  it('gives a new session the profile id derived from its source and session, the same on every resolver', async () => {
    const a = new IdentityResolver(new LruProfileCache({ maxEntries: 100 }), { sessionTtlSeconds: 60, onDegraded: () => undefined, logger: quiet });
    const b = new IdentityResolver(new LruProfileCache({ maxEntries: 100 }), { sessionTtlSeconds: 60, onDegraded: () => undefined, logger: quiet });
    const first = await a.resolve(payload());
    expect(first).toEqual({ profileId: sessionProfileId('web', 's-1'), sessionId: 's-1' });
    // Two caches that never saw each other's claim still agree.
    expect(await b.resolve(payload())).toEqual(first);
    // The same session id of another source is another session, with another profile.
    expect((await a.resolve(payload({ source: { id: 'app' } }))).profileId).not.toBe(first.profileId);
  });

  it('keeps a session on the profile a client bound it to', async () => {
    const resolver = new IdentityResolver(new LruProfileCache({ maxEntries: 100 }), { sessionTtlSeconds: 60, onDegraded: () => undefined, logger: quiet });
    expect((await resolver.resolve(payload({ profile: { id: 'p-given' } }))).profileId).toBe('p-given');
    expect((await resolver.resolve(payload())).profileId).toBe('p-given');
  });

  it('degrades when the cache fails: never throws, uses the given or the derived profile, counts and logs once', async () => {
    let degraded = 0;
    const warnings: unknown[] = [];
    const resolver = new IdentityResolver(new DownCache({ maxEntries: 10 }), { sessionTtlSeconds: 60, onDegraded: () => (degraded += 1), logger: { warn: (...args: unknown[]) => warnings.push(args), info: () => undefined } });
    expect(await resolver.resolve(payload())).toEqual({ profileId: sessionProfileId('web', 's-1'), sessionId: 's-1' });
    expect((await resolver.resolve(payload({ profile: { id: 'p-given' } }))).profileId).toBe('p-given');
    expect(degraded).toBe(2);
    expect(warnings).toHaveLength(1);
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

  it('has no limit by default', async () => {
    h = await startHarness();
    for (let i = 0; i < 50; i += 1) expect((await post(trackBody())).statusCode).toBe(200);
  });
});
