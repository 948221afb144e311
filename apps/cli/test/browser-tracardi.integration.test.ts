// Tracardi's browser tracker's wire behaviour, in headless Chromium, on a page served from
// another origin than Sluice's. The page loads fixtures/tracardi-wire.js, our own script that
// sends what Tracardi's tracker (Tracardi/tracardi-js at 9c0f371, read, not copied: it has no
// licence) sends, the same way: two page loads (fetch with JSON and X-Timestamp, so
// preflighted; the second reuses the profile id of the first answer and the session and
// device ids), a `fire` event and a beacon (a JSON Blob, so credentialed and preflighted);
// then a `text/plain` beacon and an error the page must be able to read. Every event must be
// stored, under one profile, with the time object, device, options and X-Timestamp readable
// through the read API. Tracardi's own code does not run here. Sluice runs on its embedded
// defaults (`sluice start`: SQLite store, local log bus).
//
// Needs Chromium (Debian's `chromium`; .ci/run installs it; CHROMIUM_PATH overrides the
// path); nothing beyond loopback.
import { readFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import { REPO_ROOT, waitFor } from '@sluice/testkit';
import { pageProblems, startBrowserRig, type BrowserRig } from '@sluice/testkit/browser';

const ADMIN_TOKEN = 'browser-test-admin-token-0123';
const TRACKER_SCRIPT = join(REPO_ROOT, 'apps/cli/test/fixtures/tracardi-wire.js');

interface StoredEvent {
  id: string;
  type: string;
  profileId: string;
  sessionId: string;
  time: string;
  times?: { create?: string };
  device?: { id?: string };
  options?: Record<string, unknown>;
  properties: Record<string, unknown>;
  metadata: { origin?: string; clientTimestamp?: string; userAgent?: string };
}

/** What a page-load request carried, as the browser sent it. */
interface SentBody {
  profile: { id: string } | null;
  session: { id: string };
  device: { id: string };
  events: { type: string; time: { create: string } }[];
}

/** The site: a page set up as Tracardi's documentation sets up its tracker (an `options` global, then the script), and the script. */
function site(sluiceUrl: string): RequestListener {
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script>
  const options = { tracker: { url: { api: ${JSON.stringify(sluiceUrl)} }, source: { id: 'shop' } } };
</script>
<script src="/tracardi-wire.js"></script>
<script>window.tracker.track('page-view', { title: document.title });</script>
</head><body><h1>Shop</h1></body></html>`;
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/' || path === '/index.html') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      return;
    }
    if (path === '/tracardi-wire.js') {
      readFile(TRACKER_SCRIPT).then(
        (script) => response.writeHead(200, { 'content-type': 'text/javascript' }).end(script),
        () => response.writeHead(500).end(),
      );
      return;
    }
    // The browser asks for /favicon.ico: none.
    response.writeHead(path === '/favicon.ico' ? 204 : 404).end();
  };
}

/** A POST /track answer seen by the browser. */
const isTrackAnswer = (sluiceUrl: string) => (response: HTTPResponse) => response.url() === `${sluiceUrl}/track` && response.request().method() === 'POST';

async function profileEvents(sluiceUrl: string, profileId: string): Promise<StoredEvent[]> {
  const response = await fetch(`${sluiceUrl}/v1/profiles/${profileId}/events?limit=100`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await response.json()) as { events: StoredEvent[] }).events;
}

describe("Tracardi's browser tracker's requests, from a browser, against Sluice", () => {
  let rig: BrowserRig | undefined;

  beforeAll(async () => {
    rig = await startBrowserRig({ env: { ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100' }, site });
  }, 120_000);

  afterAll(() => rig?.close());

  it('stores its page loads, a fired event and a JSON-Blob beacon under one profile, with time object, device, options and X-Timestamp', async () => {
    const { sluice, siteOrigin, browser } = rig!;
    const sluiceUrl = sluice.url;
    // The source allows the site's origin only (no `*`).
    const created = await fetch(`${sluiceUrl}/v1/sources`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'shop', name: 'Shop', allowedOrigins: [siteOrigin] }) });
    expect(created.status).toBe(201);

    const page: Page = await browser.newPage();
    const problems = pageProblems(page, { consoleErrors: true });
    // Every request to /track as the browser sent it, preflights included.
    const sent: HTTPRequest[] = [];
    page.on('request', (request) => {
      if (request.url() === `${sluiceUrl}/track`) sent.push(request);
    });

    // Two page loads: each sends its collected page-view with `fetch` (a preflight: JSON and X-Timestamp).
    const answers: { status: number; body: { profile?: { id: string }; message?: string } }[] = [];
    const loads: { headers: Record<string, string>; body: SentBody }[] = [];
    for (let load = 0; load < 2; load += 1) {
      const answer = page.waitForResponse(isTrackAnswer(sluiceUrl), { timeout: 30_000 });
      await page.goto(`${siteOrigin}/`, { waitUntil: 'load' });
      const response = await answer;
      answers.push({ status: response.status(), body: (await response.json()) as { profile?: { id: string }; message?: string } });
      loads.push({ headers: response.request().headers(), body: JSON.parse(response.request().postData() ?? 'null') as SentBody });
    }
    expect(answers.map((answer) => [answer.status, answer.body.message])).toEqual([[200, undefined], [200, undefined]]);
    const profileId = answers[0]!.body.profile!.id;
    expect(answers[1]!.body.profile?.id).toBe(profileId);
    // The first load has no profile yet; the second sends the one the first answer named, and
    // the same session (cookie) and device (local storage) ids.
    const [first, second] = loads.map((load) => load.body);
    expect([first?.profile, second?.profile]).toEqual([null, { id: profileId }]);
    expect(second?.session.id).toBe(first?.session.id);
    expect(second?.device.id).toBe(first?.device.id);
    for (const load of loads) {
      expect(load.headers).toMatchObject({ 'content-type': 'application/json', 'x-timestamp': expect.stringMatching(/^\d{13}$/) });
      expect(load.body.events).toEqual([expect.objectContaining({ type: 'page-view', time: { create: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) } })]);
    }

    // A fired event: sent at once; the script reads the answer's JSON as the tracker does (a CORS failure would
    // be logged as an error, which `problems` collects).
    const firedAnswer = page.waitForResponse(isTrackAnswer(sluiceUrl), { timeout: 30_000 });
    await page.evaluate(() => {
      const tracker = (globalThis as unknown as { tracker: { track(type: string, properties: object, options: object): Promise<unknown> } }).tracker;
      void tracker.track('purchase', { sku: 'SKU-1', price: 13.45 }, { fire: true });
    });
    const fired = await firedAnswer;
    expect([fired.status(), ((await fired.json()) as { profile: { id: string } }).profile.id]).toEqual([200, profileId]);

    // A beacon: navigator.sendBeacon with a JSON Blob, credentialed, after a preflight.
    const beaconAnswer = page.waitForResponse(isTrackAnswer(sluiceUrl), { timeout: 30_000 });
    const beaconQueued = await page.evaluate(() => {
      const tracker = (globalThis as unknown as { tracker: { track(type: string, properties: object, options: object): Promise<unknown> } }).tracker;
      return tracker.track('leave', { reason: 'closed' }, { asBeacon: true });
    });
    expect(beaconQueued).toBe(true);
    const beacon = await beaconAnswer;
    expect(beacon.status()).toBe(200);
    // Credentialed: the page's cookies (same host, another port) went with it.
    expect(beacon.request().headers()).toMatchObject({ 'content-type': 'application/json', cookie: expect.stringContaining('tracardi-session-id=') });

    // A beacon as many trackers send it: a JSON string, so `text/plain`, without a preflight.
    const textBeaconAnswer = page.waitForResponse(isTrackAnswer(sluiceUrl), { timeout: 30_000 });
    const queued = await page.evaluate(
      (api, profile) => (globalThis as unknown as { navigator: { sendBeacon(url: string, body: string): boolean } }).navigator.sendBeacon(`${api}/track`, JSON.stringify({ source: { id: 'shop' }, profile: { id: profile }, events: [{ type: 'text-beacon', time: { create: new Date().toISOString() } }] })),
      sluiceUrl,
      profileId,
    );
    expect(queued).toBe(true);
    expect((await textBeaconAnswer).status()).toBe(200);

    let events: StoredEvent[] = [];
    await waitFor(async () => (events = await profileEvents(sluiceUrl, profileId)).length >= 5, 30_000, () => `stored: ${JSON.stringify(events.map((event) => event.type))}`);
    expect(problems).toEqual([]);
    const byType = (type: string) => events.filter((event) => event.type === type);
    expect(events.map((event) => event.type).sort()).toEqual(['leave', 'page-view', 'page-view', 'purchase', 'text-beacon']);
    expect(new Set(events.map((event) => event.profileId))).toEqual(new Set([profileId]));
    // One visitor: one session cookie and one device id across everything the tracker sent.
    const fromTracker = events.filter((event) => event.type !== 'text-beacon');
    expect([...new Set(fromTracker.map((event) => event.sessionId))]).toEqual([first?.session.id]);
    const deviceIds = new Set(fromTracker.map((event) => event.device?.id));
    expect([...deviceIds]).toEqual([first?.device.id]);
    expect([...deviceIds][0]).toMatch(/^[0-9a-f-]{36}$/);
    for (const event of events) {
      // The event time is the tracker's `time.create`, kept beside it.
      expect(event.times?.create).toBe(event.time);
      expect(Math.abs(Date.parse(event.time) - Date.now())).toBeLessThan(120_000);
      expect(event.metadata.origin).toBe(siteOrigin);
    }
    expect(byType('purchase')[0]).toMatchObject({ properties: { sku: 'SKU-1', price: 13.45 }, options: { fire: true } });
    expect(byType('leave')[0]).toMatchObject({ properties: { reason: 'closed' }, options: { asBeacon: true } });
    // fetch sends X-Timestamp (the client clock, ms); sendBeacon cannot send headers.
    for (const event of [...byType('page-view'), ...byType('purchase')]) expect(event.metadata.clientTimestamp).toMatch(/^\d{13}$/);
    expect(byType('leave')[0]?.metadata.clientTimestamp).toBeUndefined();

    // The browser asked before each kind of cross-origin POST: the tracker's fetch (its JSON
    // and X-Timestamp) and the JSON-Blob beacon (its type); Sluice allowed both, or nothing
    // would have been sent.
    const preflights = sent.filter((request) => request.method() === 'OPTIONS').map((request) => request.headers()['access-control-request-headers']);
    expect(new Set(preflights)).toEqual(new Set(['content-type,x-timestamp', 'content-type']));

    // An error is readable by the page too, credentials included: the code, not "Failed to fetch".
    const refused = await page.evaluate(async (api) => {
      const response = await fetch(`${api}/track`, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: { id: 'shop' }, events: [{ type: 'x', time: 1 }] }) });
      return [response.status, ((await response.json()) as { code: string }).code];
    }, sluiceUrl);
    expect(refused).toEqual([400, 'VALIDATION_FAILED']);
  }, 180_000);
});
