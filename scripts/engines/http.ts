// A tiny JSON-over-HTTP(S) helper for readiness checks (custom CA and basic auth included),
// so the provisioning needs no package before `npm install` has run.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpOptions {
  readonly method?: string;
  readonly body?: unknown;
  readonly ca?: string | Buffer;
  readonly username?: string;
  readonly password?: string;
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: unknown;
}

export function httpJson(url: string, options: HttpOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload) headers['content-type'] = 'application/json';
  if (options.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request(target, { method: options.method ?? 'GET', headers, ca: options.ca, timeout: options.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // Not JSON; keep the text.
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${String(options.timeoutMs ?? 5000)} ms: ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}
