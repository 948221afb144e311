import { createServer, type Server } from 'node:http';
import { checkReadiness, hasBearerToken, readinessBody, type HealthCheck } from './health.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * The operations endpoints of a process that serves no API (a storage worker, `sluice jobs`,
 * an API replica waiting for `sluice init`) on HOST:PORT, for probes and scraping:
 * `/healthz` (alive), `/readyz` (each dependency; 503 while draining), `/metrics`.
 * `/readyz` shows each dependency's detail only to `Authorization: Bearer <adminToken>`
 * (none configured: to nobody), as the API's does.
 */
export async function startOpsServer(deps: { host: string; port: number; checks: Readonly<Record<string, HealthCheck>>; metrics: Metrics; logger: Logger; isDraining: () => boolean; adminToken?: string | undefined }): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const reply = (status: number, body: string, type = 'application/json; charset=utf-8') => {
      response.writeHead(status, { 'content-type': type }).end(body);
    };
    const route = async (): Promise<void> => {
      if (request.method !== 'GET') return reply(404, JSON.stringify({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'this process serves GET /healthz, /readyz and /metrics only' }));
      switch (request.url?.split('?')[0]) {
        case '/healthz':
          return reply(200, JSON.stringify({ status: 'ok' }));
        case '/readyz': {
          const report = await checkReadiness(deps.checks);
          const body = readinessBody(report, deps.isDraining(), hasBearerToken(request.headers.authorization, deps.adminToken));
          return reply(body.ready ? 200 : 503, JSON.stringify(body));
        }
        case '/metrics':
          return reply(200, await deps.metrics.registry.metrics(), deps.metrics.registry.contentType);
        default:
          return reply(404, JSON.stringify({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no route ${request.url?.split('?')[0] ?? ''}` }));
      }
    };
    route().catch((error: unknown) => {
      deps.logger.error({ err: error }, 'ops endpoint failed');
      if (!response.headersSent) reply(500, JSON.stringify({ statusCode: 500, code: 'INTERNAL', error: 'Internal Server Error', message: 'see the logs' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => resolve());
  });
  const address = server.address();
  const url = typeof address === 'object' && address !== null ? `http://${deps.host}:${String(address.port)}` : '';
  return { server, url };
}
