// Liveness, readiness and faultline's own Prometheus metrics.

import type { FastifyInstance } from 'fastify';
import type { ComponentHealth } from '../../../model/component';
import type { ApiDeps } from '../server';

export function registerOpsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const startedAt = Date.now();

  function components(): ComponentHealth[] {
    let others: ComponentHealth[];
    try {
      others = deps.health();
    } catch (err) {
      others = [{ component: 'health', status: 'failed', message: `health check threw: ${(err as Error).message}` }];
    }
    return [deps.state.health(), ...others];
  }

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is alive',
        tags: ['ops'],
        response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string' }, uptimeSec: { type: 'number' } } } },
      },
    },
    async () => ({ status: 'ok', uptimeSec: Math.round((Date.now() - startedAt) / 1000) }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: "Components' health; 503 when a required one has failed",
        description: "Components report ok, degraded, failed or disabled; a failed one makes the sidecar not ready unless it is marked required: false (an optional feature).",
        tags: ['ops'],
        response: {
          200: { $ref: 'Readiness#' },
          503: { $ref: 'Readiness#' },
        },
      },
    },
    async (_req, reply) => {
      const list = components();
      const ready = !list.some((c) => c.status === 'failed' && c.required !== false);
      reply.code(ready ? 200 : 503);
      return { status: ready ? 'ready' : 'not_ready', components: list };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: "faultline's own metrics, Prometheus text format",
        tags: ['ops'],
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_req, reply) => {
      const m = deps.metrics;
      const s = deps.store.stats();
      m.storeItems.set({ signal: 'spans' }, s.spans);
      m.storeItems.set({ signal: 'metrics' }, s.metricPoints);
      m.storeBytes.set(s.estimatedBytes);
      m.storeEvicted.set({ signal: 'spans' }, s.evictedSpans);
      m.storeEvicted.set({ signal: 'metrics' }, s.evictedMetricPoints);
      for (const c of components()) m.componentUp.set({ component: c.component }, c.status === 'ok' || c.status === 'disabled' ? 1 : 0);
      reply.header('content-type', m.registry.contentType);
      return m.registry.metrics();
    },
  );
}
