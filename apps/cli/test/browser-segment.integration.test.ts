// Segment's browser library, @segment/analytics-next (MIT), its standalone build served
// locally from node_modules as Segment's CDN would serve it, in headless Chromium, on a page
// of another origin than Sluice's: the page's snippet queues a page call and track calls
// (one with a free-form name), then identifies; the library sends them to Sluice
// (`apiHost` from the settings the local "CDN" answers). Every call must be stored under the
// expected profiles: the anonymous visitor's, bound to the user's by the identify.
//
// Needs Chromium (Debian's `chromium`; CHROMIUM_PATH overrides the path); nothing beyond loopback.
import { readFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { anonymousProfileId, userProfileId } from '@sluice/core';
import { REPO_ROOT, waitFor } from '@sluice/testkit';
import { pageProblems, startBrowserRig, type BrowserRig } from '@sluice/testkit/browser';

const ADMIN_TOKEN = 'browser-segment-admin-token-0123';
const BUNDLES = join(REPO_ROOT, 'node_modules/@segment/analytics-next/dist/umd');
const NAME = 'Coupon Applied (10% off) – Sommer/2025';

interface StoredEvent {
  id: string;
  type: string;
  profileId: string;
  properties: Record<string, unknown>;
  context: { page?: { url?: string }; segment?: { event?: string; anonymousId?: string; userId?: string; name?: string } };
}

/**
 * The site and its "CDN" in one server: the page (the snippet Segment documents, reduced to a
 * queue), the standalone build at the path the snippet loads, its chunks, and the source's
 * settings pointing the library at Sluice.
 */
function site(sluiceUrl: string): RequestListener {
  const sluiceHost = sluiceUrl.replace(/^http:\/\//, '');
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script>
  var analytics = (window.analytics = []);
  for (const method of ['page', 'track', 'identify']) analytics[method] = function () { analytics.push([method].concat(Array.prototype.slice.call(arguments))); return analytics; };
  analytics._writeKey = 'shop';
  analytics._cdn = location.origin;
  analytics.page('Home', { plan: 'free' });
  analytics.track(${JSON.stringify(NAME)}, { coupon: 'SOMMER10' });
</script>
<script async src="/analytics.js/v1/shop/analytics.min.js"></script>
</head><body><h1>Shop</h1></body></html>`;
  const settings = { integrations: { 'Segment.io': { apiKey: 'shop', apiHost: `${sluiceHost}/v1`, protocol: 'http' } }, plan: { track: { __default: { enabled: true } } } };
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const file = (name: string) => readFile(join(BUNDLES, name)).then(
      (script) => response.writeHead(200, { 'content-type': 'text/javascript' }).end(script),
      () => response.writeHead(404).end(),
    );
    if (path === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    else if (path === '/analytics.js/v1/shop/analytics.min.js') void file('standalone.js');
    else if (path.startsWith('/analytics-next/bundles/')) void file(normalize(path.slice('/analytics-next/bundles/'.length)).replace(/^(\.\.[/\\])+/, ''));
    else if (path === '/v1/projects/shop/settings') response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(settings));
    else response.writeHead(path === '/favicon.ico' ? 204 : 404).end();
  };
}

describe('@segment/analytics-next in a browser, against Sluice', () => {
  let rig: BrowserRig | undefined;

  beforeAll(async () => {
    rig = await startBrowserRig({ env: { ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100', DEMO_SOURCE: 'false' }, site });
  }, 120_000);

  afterAll(() => rig?.close());

  it('stores its page and track calls, then binds the visitor to the user on identify', async () => {
    const { sluice, siteOrigin, browser } = rig!;
    const sluiceUrl = sluice.url;
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const created = await fetch(`${sluiceUrl}/v1/sources`, { method: 'POST', headers, body: JSON.stringify({ id: 'shop', name: 'Shop', allowedOrigins: [siteOrigin] }) });
    expect(created.status).toBe(201);

    const page = await browser.newPage();
    const problems = pageProblems(page);
    const sent: { url: string; body: { messageId: string; anonymousId: string; type: string } }[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(`${sluiceUrl}/v1/`) && request.method() === 'POST') sent.push({ url: request.url(), body: JSON.parse(request.postData() ?? 'null') as { messageId: string; anonymousId: string; type: string } });
    });
    await page.goto(`${siteOrigin}/`, { waitUntil: 'load' });
    await waitFor(async () => sent.length >= 2, 20_000, () => `the library sent ${String(sent.length)} calls; problems: ${problems.join('; ')}`);
    // The page and track calls answered (stored) before identify: sent is not answered, and an
    // identify that overtook them would merge the anonymous profile under them.
    for (const call of sent.slice(0, 2)) {
      await waitFor(async () => (await fetch(`${sluiceUrl}/v1/sources/shop/events/${encodeURIComponent(call.body.messageId)}`, { headers })).status === 200, 15_000, () => `${call.body.type} ${call.body.messageId} was not stored`);
    }
    await page.evaluate(() => (globalThis as unknown as { analytics: { identify(id: string, traits: object): Promise<unknown> } }).analytics.identify('ana@example.com', { plan: 'pro' }));
    await waitFor(async () => sent.length >= 3, 20_000, () => `no identify sent; problems: ${problems.join('; ')}`);

    const anonymousId = sent[0]!.body.anonymousId;
    expect(sent.map((call) => new URL(call.url).pathname).sort()).toEqual(['/v1/i', '/v1/p', '/v1/t']);
    const stored: StoredEvent[] = [];
    for (const call of sent) {
      await waitFor(async () => {
        const response = await fetch(`${sluiceUrl}/v1/sources/shop/events/${encodeURIComponent(call.body.messageId)}`, { headers });
        if (response.status !== 200) return false;
        stored.push((await response.json()) as StoredEvent);
        return true;
      }, 15_000, () => `${call.body.type} ${call.body.messageId} was not stored`);
    }
    expect(problems).toEqual([]);
    const byType = new Map(stored.map((event) => [event.type, event]));
    expect(byType.get('page')).toMatchObject({ profileId: anonymousProfileId('shop', anonymousId), properties: { plan: 'free' }, context: { page: { url: `${siteOrigin}/` }, segment: { name: 'Home', anonymousId } } });
    expect(byType.get('track')).toMatchObject({ profileId: anonymousProfileId('shop', anonymousId), properties: { coupon: 'SOMMER10' }, context: { segment: { event: NAME } } });
    expect(byType.get('identify')).toMatchObject({ profileId: userProfileId('ana@example.com'), context: { segment: { userId: 'ana@example.com', anonymousId } } });
    const merged = (await (await fetch(`${sluiceUrl}/v1/profiles/${anonymousProfileId('shop', anonymousId)}`, { headers })).json()) as { mergedInto?: string };
    expect(merged.mergedInto).toBe(userProfileId('ana@example.com'));
  }, 120_000);
});
