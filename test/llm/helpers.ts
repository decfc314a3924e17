// Shared pieces of the LLM tests: a store filled with recsys telemetry, a deterministic
// diagnosis over it, and a config pointing at a fake endpoint.

import { TelemetryStore } from '../../agent/store/telemetry-store';
import type { Diagnosis, Evidence, FaultKind } from '../../model/diagnosis';
import { defaultLlmConfig, type LlmConfig } from '../../llm';
import { makeRecsysTelemetry, type RecsysOptions } from './recsys-telemetry';

export const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
export const CHANGE = T0 + 6 * 60_000;
export const T1 = T0 + 10 * 60_000;

export function makeStore(over: Partial<RecsysOptions> = {}) {
  const tel = makeRecsysTelemetry({ seed: 7, fromMs: T0, changeAtMs: CHANGE, toMs: T1, traces: 60, fault: { service: 'feature-store', kind: 'delay', factor: 8 }, ...over });
  const store = new TelemetryStore({ windowMs: 60 * 60_000 });
  store.consumeSpans(tel.spans);
  store.consumeMetrics(tel.metrics);
  return { store, ...tel };
}

export function ev(id: string, service: string, score: number, extra: Partial<Evidence> = {}): Evidence {
  return { id, type: 'latency', title: `${service} latency rose`, service, before: 10, after: 10 * (1 + score), unit: 'ms', score, ...extra };
}

export function cause(service: string, score: number, evidence: Evidence[], kind: FaultKind = 'delay') {
  return { service, kind, score, confidence: Math.min(1, score), evidence };
}

/** A deterministic diagnosis that (wrongly) puts the symptom service first. */
export function makeDiagnosis(over: Partial<Diagnosis> = {}): Diagnosis {
  return {
    id: 'diag-test-1',
    createdAtMs: T1,
    window: { fromMs: T0, toMs: T1 },
    anomaly: {
      detected: true,
      changeAtMs: CHANGE,
      baselineSource: 'pre-change',
      signals: [{ service: 'gateway', operation: 'GET /api/recommend', signal: 'latency', before: 60, after: 105, score: 6 }],
    },
    causes: [
      cause('recommend', 0.8, [ev('ev-1', 'recommend', 2.1, { operation: 'POST /recommend' })]),
      cause('feature-store', 0.6, [ev('ev-2', 'feature-store', 7.9, { type: 'edge', edge: { from: 'ranking', to: 'feature-store' } })]),
      cause('ranking', 0.5, [ev('ev-3', 'ranking', 1.2)]),
      cause('candidates', 0.2, [ev('ev-4', 'candidates', 0.4)]),
      cause('gateway', 0.1, [ev('ev-5', 'gateway', 0.3)]),
    ],
    propagationPath: ['feature-store', 'ranking', 'recommend', 'gateway'],
    summary: 'latency of gateway GET /api/recommend rose 1.8x; most likely recommend',
    explanation: 'Deterministic: recommend self time rose.',
    timing: { analysisMs: 12, spans: 0, metricPoints: 0 },
    ...over,
  };
}

export function testConfig(baseURL: string, over: Partial<LlmConfig> = {}): LlmConfig {
  return { ...defaultLlmConfig(), enabled: true, baseURL, apiKey: 'test-key', model: 'fake-model', timeoutMs: 5_000, maxRetries: 0, ...over };
}

/** A schema-valid answer; tests override parts. */
export function answer(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    hypotheses: [
      {
        statement: 'feature-store got slower after the change and ranking waits on it [ev-2]',
        services: ['feature-store', 'ranking'],
        instances: ['fs-1'],
        metrics: [],
        evidenceIds: ['ev-2'],
        confidence: 'high',
      },
    ],
    ranking: [
      { service: 'feature-store', reason: 'edge latency ranking->feature-store rose 8x', evidenceIds: ['ev-2'] },
      { service: 'recommend', reason: 'symptom only', evidenceIds: ['ev-1'] },
    ],
    explanation: 'The calls from ranking to feature-store slowed down [ev-2]; recommend only shows the symptom [ev-1].',
    nextChecks: [{ action: 'Look at feature-store p95 per instance', why: 'confirm the slowdown is local to fs-1' }],
    ...over,
  });
}
