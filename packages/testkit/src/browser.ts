import { createServer, type RequestListener, type Server } from 'node:http';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { startSluice, type SluiceProcess } from './process.ts';
import { tempDir } from './temp.ts';

/** Debian's `chromium`; CHROMIUM_PATH overrides it. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * What a browser test needs: an embedded `sluice start` (its own DATA_DIR), a site on
 * another origin of loopback, and headless Chromium. `close()` ends all three and removes
 * the data; safe after a partial start (what started is stopped).
 */
export interface BrowserRig {
  readonly sluice: SluiceProcess;
  /** The site's origin, `http://127.0.0.1:<port>`: another origin than Sluice's. */
  readonly siteOrigin: string;
  readonly browser: Browser;
  close(): Promise<void>;
}

export interface BrowserRigOptions {
  /** Sluice's environment beyond DATA_DIR (ADMIN_TOKEN, LOGGING_LEVEL …). */
  readonly env: Record<string, string>;
  /** The site's request handler, given Sluice's URL (the page points its tracker there). */
  readonly site: (sluiceUrl: string) => RequestListener;
}

export async function startBrowserRig(options: BrowserRigOptions): Promise<BrowserRig> {
  const stops: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const data = await tempDir('sluice-browser-');
    stops.push(data.cleanup);
    const sluice = await startSluice('start', { DATA_DIR: data.dir, ...options.env });
    stops.push(() => sluice.stop());
    const server = createServer(options.site(sluice.url));
    const port = await listen(server);
    stops.push(() => new Promise((resolve) => server.close(resolve)));
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    stops.push(() => browser.close());
    return { sluice, siteOrigin: `http://127.0.0.1:${String(port)}`, browser, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Listens on a free loopback port; resolves with it. */
function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address === 'object' && address !== null) resolve(address.port);
      else reject(new Error('the site server has no port'));
    });
  });
}

/**
 * What went wrong on a page, as the browser saw it: every answer ≥ 400, every request that
 * failed (a CORS refusal shows here), and with `consoleErrors` every console error. A test
 * expects the list empty, so its failure names the request.
 */
export function pageProblems(page: Page, options: { consoleErrors?: boolean } = {}): string[] {
  const problems: string[] = [];
  if (options.consoleErrors === true) {
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
  }
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.request().method()} ${response.url()}: ${String(response.status())}`);
  });
  page.on('requestfailed', (request) => problems.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'failed'}`));
  return problems;
}
