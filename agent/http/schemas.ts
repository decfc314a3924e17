// JSON schemas of the API: fastify validates requests and serializes responses with them,
// and @fastify/swagger turns them into /openapi.json. Objects that other parts may extend
// with optional fields (model/ contracts) allow additional properties so nothing is dropped.

import { FAULT_KINDS } from '../../model/diagnosis';

const num = { type: 'number' } as const;
const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: str, message: str },
    },
  },
} as const;

const windowSchema = { type: 'object', required: ['fromMs', 'toMs'], properties: { fromMs: num, toMs: num } } as const;
const kindSchema = { type: 'string', enum: [...FAULT_KINDS] } as const;

export const evidenceSchema = {
  $id: 'Evidence',
  type: 'object',
  additionalProperties: true,
  required: ['id', 'type', 'title', 'service', 'before', 'after', 'score'],
  properties: {
    id: str,
    type: str,
    title: str,
    service: str,
    instance: str,
    operation: str,
    edge: { type: 'object', properties: { from: str, to: str } },
    series: str,
    before: num,
    after: num,
    unit: str,
    score: num,
    points: { type: 'array', items: { type: 'array', items: num, minItems: 2, maxItems: 2 } },
  },
} as const;

export const causeSchema = {
  $id: 'RankedCause',
  type: 'object',
  additionalProperties: true,
  required: ['service', 'kind', 'score', 'confidence', 'evidence'],
  properties: {
    service: str,
    instance: str,
    operation: str,
    kind: kindSchema,
    score: num,
    confidence: num,
    evidence: { type: 'array', items: { $ref: 'Evidence#' } },
  },
} as const;

export const anomalyReportSchema = {
  $id: 'AnomalyReport',
  type: 'object',
  additionalProperties: true,
  required: ['detected', 'baselineSource', 'signals'],
  properties: {
    detected: { type: 'boolean' },
    changeAtMs: num,
    baselineSource: str,
    signals: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: { service: str, operation: str, signal: str, before: num, after: num, score: num },
      },
    },
  },
} as const;

export const diagnosisSchema = {
  $id: 'Diagnosis',
  type: 'object',
  additionalProperties: true,
  required: ['id', 'createdAtMs', 'window', 'anomaly', 'causes', 'propagationPath', 'summary', 'explanation', 'timing'],
  properties: {
    id: str,
    createdAtMs: num,
    window: windowSchema,
    anomaly: { $ref: 'AnomalyReport#' },
    causes: { type: 'array', items: { $ref: 'RankedCause#' } },
    propagationPath: { type: 'array', items: str },
    summary: str,
    explanation: str,
    timing: { type: 'object', additionalProperties: true, properties: { analysisMs: num, spans: num, metricPoints: num, sampledTraces: num } },
    llm: {},
  },
} as const;

export const diagnosisSummarySchema = {
  $id: 'DiagnosisSummary',
  type: 'object',
  required: ['id', 'createdAtMs', 'source', 'window', 'summary', 'detected'],
  properties: {
    id: str,
    createdAtMs: num,
    source: { type: 'string', enum: ['api', 'watch', 'replay'] },
    window: windowSchema,
    summary: str,
    detected: { type: 'boolean' },
    changeAtMs: num,
    rootCause: {
      type: 'object',
      properties: { service: str, instance: str, kind: kindSchema, score: num, confidence: num },
    },
  },
} as const;

export const anomalyRecordSchema = {
  $id: 'AnomalyRecord',
  type: 'object',
  required: ['id', 'detectedAtMs', 'window', 'report'],
  properties: { id: str, detectedAtMs: num, changeAtMs: num, window: windowSchema, report: { $ref: 'AnomalyReport#' }, diagnosisId: str },
} as const;

export const truthSchema = {
  $id: 'IncidentTruth',
  type: 'object',
  additionalProperties: false,
  required: ['service', 'kind', 'start'],
  properties: {
    service: { type: 'string', minLength: 1, maxLength: 200 },
    instance: { type: 'string', maxLength: 200 },
    kind: kindSchema,
    start: { type: 'string', format: 'date-time' },
  },
} as const;

export const incidentRecordSchema = {
  $id: 'IncidentRecord',
  type: 'object',
  required: ['id', 'createdAtMs', 'window', 'dir', 'source'],
  properties: {
    id: str,
    createdAtMs: num,
    window: windowSchema,
    dir: str,
    source: { type: 'string', enum: ['api', 'watch'] },
    system: str,
    description: str,
    truth: { $ref: 'IncidentTruth#' },
    diagnosisId: str,
  },
} as const;

const redSchema = {
  type: 'object',
  additionalProperties: true,
  properties: { calls: num, ratePerSec: num, errors: num, errorRate: num, p50Ms: num, p95Ms: num, p99Ms: num },
} as const;

export const graphSchema = {
  $id: 'ServiceGraph',
  type: 'object',
  required: ['fromMs', 'toMs', 'nodes', 'edges'],
  properties: {
    fromMs: num,
    toMs: num,
    sampledTraces: num,
    diagnosisId: str,
    rootCause: str,
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        required: ['service', 'virtual', 'stats'],
        properties: {
          service: str,
          virtual: { type: 'boolean' },
          instances: { type: 'array', items: str },
          hosts: { type: 'array', items: str },
          stats: redSchema,
          health: { type: 'string', enum: ['ok', 'warning', 'critical', 'unknown'] },
        },
      },
    },
    edges: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        required: ['from', 'to', 'stats'],
        properties: { from: str, to: str, stats: redSchema, meanGapMs: num, unpaired: num },
      },
    },
  },
} as const;

const componentSchema = {
  type: 'object',
  required: ['component', 'status'],
  properties: { component: { type: 'string' }, status: { type: 'string' }, message: { type: 'string' }, sinceMs: { type: 'number' }, required: { type: 'boolean' } },
} as const;

export const readinessSchema = {
  $id: 'Readiness',
  type: 'object',
  required: ['status', 'components'],
  properties: { status: { type: 'string', enum: ['ready', 'not_ready'] }, components: { type: 'array', items: componentSchema } },
} as const;

export const sharedSchemas = [
  readinessSchema,
  errorSchema,
  evidenceSchema,
  causeSchema,
  anomalyReportSchema,
  diagnosisSchema,
  diagnosisSummarySchema,
  anomalyRecordSchema,
  truthSchema,
  incidentRecordSchema,
  graphSchema,
];

/** The standard error responses a route declares, so /openapi.json lists them. */
export function errorResponses(...codes: number[]): Record<number, { $ref: string }> {
  const out: Record<number, { $ref: string }> = {};
  for (const c of codes) out[c] = { $ref: 'Error#' };
  return out;
}

export const pagingQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 20, description: 'page size' },
  cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' },
  since: { type: 'number', minimum: 0, description: 'only records created at or after this time (ms since epoch)' },
  until: { type: 'number', minimum: 0, description: 'only records created before this time (ms since epoch)' },
} as const;

/** Either {lastMinutes} or {fromMs, toMs}: the window to diagnose or record. */
export const windowBodyProperties = {
  lastMinutes: { type: 'number', exclusiveMinimum: 0, maximum: 1440, description: 'the last N minutes of held telemetry' },
  fromMs: { type: 'number', minimum: 0 },
  toMs: { type: 'number', minimum: 0 },
} as const;

export const INCIDENT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

export { int };
