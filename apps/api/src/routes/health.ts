import type { FastifyInstance } from 'fastify';
import { checkReadiness, type HealthCheck, type Metrics } from '@sluice/observability';

/** `/healthz` (alive), `/readyz` (every dependency, with detail) and `/metrics` (Prometheus). */
export function healthRoutes(deps: { checks: Readonly<Record<string, HealthCheck>>; metrics: Metrics; isDraining: () => boolean }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/healthz', async () => ({ status: 'ok' }));

    app.get('/readyz', async (_request, reply) => {
      const report = await checkReadiness(deps.checks);
      const ready = report.ready && !deps.isDraining();
      return reply.code(ready ? 200 : 503).send({ ready, draining: deps.isDraining(), dependencies: report.dependencies });
    });

    app.get('/metrics', async (_request, reply) => {
      return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    });
  };
}
