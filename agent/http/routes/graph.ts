// The service graph of a recent window, nodes coloured from a diagnosis (the latest, or
// one chosen with ?diagnosisId=): the root cause is critical, services the symptom went
// through or that showed anomalous signals are warning, the rest ok.

import { DEFAULT_MAX_DIAGNOSIS_SPANS } from '../../../model/store';
import type { FastifyInstance } from 'fastify';
import { buildServiceGraph } from '../../../analyzers/index';
import type { Diagnosis } from '../../../model/diagnosis';
import type { GraphNode, RedStats, ServiceGraph } from '../../../model/graph';
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
      // Bounded like a diagnosis: a sample of whole traces, counts scaled back up.
      const { spans, sampled } = deps.store.sampledSnapshot(win.fromMs, win.toMs, deps.config.maxDiagnosisSpans ?? DEFAULT_MAX_DIAGNOSIS_SPANS);
      const graph = buildServiceGraph(spans, win.fromMs, win.toMs);
      if (sampled < 1) scaleCounts(graph, sampled);
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

/** A graph built from a fraction `sampled` of the traces: counts and rates as for all of them. */
function scaleCounts(graph: ServiceGraph, sampled: number): void {
  graph.sampledTraces = sampled;
  const scale = (st: RedStats) => {
    st.calls = Math.round(st.calls / sampled);
    st.errors = Math.round(st.errors / sampled);
    st.ratePerSec /= sampled;
  };
  for (const n of graph.nodes) scale(n.stats);
  for (const e of graph.edges) {
    scale(e.stats);
    e.unpaired = Math.round(e.unpaired / sampled);
  }
}
