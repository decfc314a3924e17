// Diagnoses (list, get, run now) and detected anomalies (list).

import type { FastifyInstance } from 'fastify';
import { diagnose } from '../../../analyzers/index';
import { noteSampled } from '../../../model/diagnosis';
import { DEFAULT_MAX_DIAGNOSIS_SPANS } from '../../../model/store';
import { llmConfigFromEnv, maybeExplain } from '../../../llm/index';
import { newId } from '../../watch/ids';
import { ApiError } from '../errors';
import { errorResponses, pagingQuery, windowBodyProperties } from '../schemas';
import type { ApiDeps } from '../server';
import { resolveWindow, type WindowRequest } from '../window';

interface PagingQuery {
  limit?: number;
  cursor?: string;
  since?: number;
  until?: number;
}

const pagingQuerySchema = { type: 'object', additionalProperties: false, properties: pagingQuery } as const;

function pageResponse(itemRef: string) {
  return {
    type: 'object',
    required: ['items'],
    properties: { items: { type: 'array', items: { $ref: itemRef } }, nextCursor: { type: 'string' } },
  } as const;
}

export function listOptions(q: PagingQuery) {
  return { limit: q.limit, cursor: q.cursor, sinceMs: q.since, untilMs: q.until };
}

export function registerDiagnosisRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Querystring: PagingQuery }>(
    '/api/v1/diagnoses',
    {
      schema: {
        summary: 'Diagnoses, newest first',
        description: 'Paging: limit (1..500, default 20) and cursor (nextCursor of the previous page). since/until filter on createdAtMs.',
        tags: ['diagnoses'],
        querystring: pagingQuerySchema,
        response: { 200: pageResponse('DiagnosisSummary#'), ...errorResponses(400, 401) },
      },
    },
    async (req) => deps.state.listDiagnoses(listOptions(req.query)),
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/diagnoses/:id',
    {
      schema: {
        summary: 'One diagnosis with its ranked causes, evidence, propagation path and explanation',
        tags: ['diagnoses'],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 200: { $ref: 'Diagnosis#' }, ...errorResponses(401, 404) },
      },
    },
    async (req) => {
      const d = deps.state.getDiagnosis(req.params.id);
      if (!d) throw new ApiError(404, 'not_found', `no diagnosis "${req.params.id}"`);
      return d;
    },
  );

  app.post<{ Body: WindowRequest & { maxCauses?: number; llm?: boolean } }>(
    '/api/v1/diagnoses',
    {
      schema: {
        summary: 'Diagnose a window now',
        description: 'Body: {lastMinutes} (counted back from the newest telemetry held) or {fromMs, toMs}. Persists the diagnosis and publishes it on /api/v1/events.',
        tags: ['diagnoses'],
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { ...windowBodyProperties, maxCauses: { type: 'integer', minimum: 1, maximum: 50 }, llm: { type: 'boolean' } },
        },
        response: { 201: { $ref: 'Diagnosis#' }, ...errorResponses(400, 401, 403, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const win = resolveWindow(deps.store, req.body);
      // A sample of whole traces when the window holds more than maxDiagnosisSpans: the
      // diagnosis must not need memory in proportion to the load.
      const { sampled, ...snapshot } = deps.store.sampledSnapshot(win.fromMs, win.toMs, deps.config.maxDiagnosisSpans ?? DEFAULT_MAX_DIAGNOSIS_SPANS);
      if (snapshot.spans.length === 0 && snapshot.metrics.length === 0) {
        throw new ApiError(422, 'no_data', `no telemetry held between ${new Date(win.fromMs).toISOString()} and ${new Date(win.toMs).toISOString()}`);
      }
      let diagnosis = diagnose(snapshot, { id: newId('dg'), nowMs: Date.now(), maxCauses: req.body.maxCauses });
      noteSampled(diagnosis, sampled);
      // Optional LLM step (llm/): never throws; on any failure the deterministic diagnosis stands with a note.
      if (req.body.llm === true) {
        diagnosis = await maybeExplain(diagnosis, deps.store, deps.llm ?? llmConfigFromEnv(process.env));
        deps.onLlmStep?.(diagnosis.llm);
      }
      deps.state.saveDiagnosis(diagnosis, 'api');
      deps.events.emit('diagnosis', { diagnosis, source: 'api' });
      reply.code(201).header('location', `/api/v1/diagnoses/${encodeURIComponent(diagnosis.id)}`);
      return diagnosis;
    },
  );

  app.get<{ Querystring: PagingQuery }>(
    '/api/v1/anomalies',
    {
      schema: {
        summary: 'Changes in behaviour the watcher detected, newest first',
        description: 'Paging as for diagnoses; since/until filter on detectedAtMs. diagnosisId names the diagnosis run for it.',
        tags: ['anomalies'],
        querystring: pagingQuerySchema,
        response: { 200: pageResponse('AnomalyRecord#'), ...errorResponses(400, 401) },
      },
    },
    async (req) => deps.state.listAnomalies(listOptions(req.query)),
  );
}
