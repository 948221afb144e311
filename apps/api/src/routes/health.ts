import type { FastifyInstance } from 'fastify';
import { checkReadiness, hasBearerToken, readinessBody, type HealthCheck, type Metrics } from '@sluice/observability';

/**
 * `/healthz` (alive), `/readyz` (every dependency: ready or not, and which adapter; with
 * `Authorization: Bearer <ADMIN_TOKEN>` also each one's detail, redacted) and `/metrics`
 * (Prometheus).
 */
export function healthRoutes(deps: { checks: Readonly<Record<string, HealthCheck>>; metrics: Metrics; isDraining: () => boolean; adminToken: string | undefined }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/healthz', async () => ({ status: 'ok' }));

    app.get('/readyz', async (request, reply) => {
      const report = await checkReadiness(deps.checks);
      const body = readinessBody(report, deps.isDraining(), hasBearerToken(request.headers.authorization, deps.adminToken));
      return reply.code(body.ready ? 200 : 503).send(body);
    });

    app.get('/metrics', async (_request, reply) => {
      return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    });
  };
}
