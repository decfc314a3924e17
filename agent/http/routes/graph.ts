// The service graph of a recent window, nodes coloured from a diagnosis (the latest, or
// one chosen with ?diagnosisId=): the root cause is critical, services the symptom went
// through or that showed anomalous signals are warning, the rest ok.

import type { FastifyInstance } from 'fastify';
import { buildServiceGraph } from '../../../analyzers/index';
import type { Diagnosis } from '../../../model/diagnosis';
import type { GraphNode, ServiceGraph } from '../../../model/graph';
import { ApiError } from '../errors';
import { errorResponses } from '../schemas';
import type { ApiDeps } from '../server';
import { resolveWindow } from '../window';

export function colourGraph(graph: ServiceGraph, d: Diagnosis | undefined): ServiceGraph & { diagnosisId?: string; rootCause?: string } {
  if (!d) return { ...graph, nodes: graph.nodes.map((n) => ({ ...n, health: 'unknown' as GraphNode['health'] })) };
  const root = d.anomaly?.detected !== false ? d.causes[0]?.service : undefined;
  const warn = new Set<string>();
  for (const s of d.propagationPath ?? []) warn.add(s);
  for (const sig of d.anomaly?.signals ?? []) warn.add(sig.service);
  const nodes = graph.nodes.map((n) => {
    const health: GraphNode['health'] = n.service === root ? 'critical' : root && warn.has(n.service) ? 'warning' : 'ok';
    return { ...n, health };
  });
  const out: ServiceGraph & { diagnosisId?: string; rootCause?: string } = { ...graph, nodes, diagnosisId: d.id };
  if (root) out.rootCause = root;
  return out;
}

export function registerGraphRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Querystring: { lastMinutes?: number; fromMs?: number; toMs?: number; diagnosisId?: string } }>(
    '/api/v1/graph',
    {
      schema: {
        summary: 'The service graph with per-service and per-edge rate, errors and latency',
        description:
          'Window: lastMinutes (default 15) counted back from the newest telemetry held, or fromMs+toMs. Nodes are coloured from the latest diagnosis, or the one named by diagnosisId.',
        tags: ['graph'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            lastMinutes: { type: 'number', exclusiveMinimum: 0, maximum: 1440 },
            fromMs: { type: 'number', minimum: 0 },
            toMs: { type: 'number', minimum: 0 },
            diagnosisId: { type: 'string', maxLength: 200 },
          },
        },
        response: { 200: { $ref: 'ServiceGraph#' }, ...errorResponses(400, 401, 404) },
      },
    },
    async (req) => {
      const win = resolveWindow(deps.store, req.query, 15);
      const spans = deps.store.querySpans({ fromMs: win.fromMs, toMs: win.toMs });
      const graph = buildServiceGraph(spans, win.fromMs, win.toMs);
      let d: Diagnosis | undefined;
      if (req.query.diagnosisId) {
        d = deps.state.getDiagnosis(req.query.diagnosisId);
        if (!d) throw new ApiError(404, 'not_found', `no diagnosis "${req.query.diagnosisId}"`);
      } else {
        d = deps.state.latestDiagnosis();
      }
      return colourGraph(graph, d);
    },
  );
}
