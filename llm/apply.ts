// Turns an LLM outcome into the final diagnosis. The deterministic diagnosis is the
// starting point and stays intact on any failure; what the LLM changed (and what it was
// refused) is recorded in diagnosis.llm next to what was sent, for audit.

import type { Diagnosis } from '../model/diagnosis';
import type { TelemetryReader } from '../model/store';
import type { LlmConfig } from './config';
import type { RankChange, RefusedPromotion } from './grounding';
import { explainDiagnosis, type ExplainDeps, type LlmFallbackReason, type LlmOutcome, type LlmUsage, type ToolCallRecord } from './investigate';
import type { Hypothesis, NextCheck } from './schema';

/** What diagnosis.llm holds after the LLM step (applied or not). */
export interface LlmRecord {
  status: 'applied' | 'fallback';
  reason?: LlmFallbackReason;
  note: string;
  model: string;
  explanation?: string; // the model's explanation, when it was kept
  hypotheses: Hypothesis[];
  rejectedHypotheses: Array<{ hypothesis: Hypothesis; reason: string }>;
  changes: RankChange[];
  refusedPromotions: RefusedPromotion[];
  nextChecks: NextCheck[];
  usage: LlmUsage;
  steps: number;
  toolCalls: ToolCallRecord[];
  /** The deterministic result, so a reader can always see what the analyzer said alone. */
  deterministic: { ranking: Array<{ service: string; instance?: string; kind: string; score: number }>; explanation: string; summary: string };
  sent: LlmOutcome['sent'];
  redactions: Record<string, number>;
  durationMs: number;
}

export function applyLlmOutcome(diagnosis: Diagnosis, outcome: LlmOutcome): Diagnosis {
  const base = {
    model: outcome.model,
    usage: outcome.usage,
    steps: outcome.steps,
    toolCalls: outcome.toolCalls,
    deterministic: {
      ranking: diagnosis.causes.map((c) => ({ service: c.service, instance: c.instance, kind: c.kind, score: c.score })),
      explanation: diagnosis.explanation,
      summary: diagnosis.summary,
    },
    sent: outcome.sent,
    redactions: outcome.redactions,
    durationMs: outcome.durationMs,
  };
  const g = outcome.grounded;
  if (outcome.status !== 'ok' || !g) {
    const reason = outcome.reason ?? 'invalid_output';
    const record: LlmRecord = {
      ...base,
      status: 'fallback',
      reason,
      note: `LLM step not applied (${reason}: ${outcome.message ?? 'no answer'}); the deterministic diagnosis stands.`,
      hypotheses: [],
      rejectedHypotheses: [],
      changes: [],
      refusedPromotions: [],
      nextChecks: [],
    };
    return { ...diagnosis, llm: record };
  }
  const parts: string[] = [];
  parts.push(g.changes.length ? `re-ranked ${g.changes.length} candidate(s)` : 'ranking unchanged');
  if (g.refused.length) parts.push(`${g.refused.length} promotion(s) refused for lack of evidence`);
  parts.push(`${g.hypotheses.length} hypothesis(es) kept`);
  if (g.rejectedHypotheses.length) parts.push(`${g.rejectedHypotheses.length} dropped as not grounded in the data`);
  parts.push(g.explanation ? 'explanation by the model' : `deterministic explanation kept (${g.explanationRejected})`);
  const record: LlmRecord = {
    ...base,
    status: 'applied',
    note: `LLM step applied: ${parts.join('; ')}.`,
    explanation: g.explanation,
    hypotheses: g.hypotheses,
    rejectedHypotheses: g.rejectedHypotheses,
    changes: g.changes,
    refusedPromotions: g.refused,
    nextChecks: g.nextChecks,
  };
  const topChanged = g.causes[0] && diagnosis.causes[0] && g.causes[0].service !== diagnosis.causes[0].service;
  return {
    ...diagnosis,
    causes: g.causes,
    explanation: g.explanation ?? diagnosis.explanation,
    summary: topChanged ? `${diagnosis.summary} [LLM re-ranked: ${g.causes[0].service} first, see llm.changes]` : diagnosis.summary,
    llm: record,
  };
}

/**
 * The one call the agent needs: the final diagnosis with diagnosis.llm filled. Never throws
 * and never loses the deterministic result; with the LLM disabled it records why.
 */
export async function maybeExplain(diagnosis: Diagnosis, reader: TelemetryReader | undefined, config: LlmConfig, deps?: ExplainDeps): Promise<Diagnosis> {
  try {
    return applyLlmOutcome(diagnosis, await explainDiagnosis(diagnosis, reader, config, deps));
  } catch (e) {
    const outcome: LlmOutcome = {
      status: 'failed',
      reason: 'call_failed',
      message: e instanceof Error ? e.message : String(e),
      model: config.model,
      usage: { calls: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, estimated: false },
      steps: 0,
      toolCalls: [],
      sent: { messages: [], tools: [] },
      redactions: {},
      durationMs: 0,
    };
    return applyLlmOutcome(diagnosis, outcome);
  }
}

/** The compact form for `replay --json` lines and API summaries. */
export function llmSummary(d: Diagnosis): Record<string, unknown> | undefined {
  const r = d.llm as LlmRecord | undefined;
  if (!r || typeof r !== 'object' || !('status' in r)) return undefined;
  return {
    status: r.status,
    ...(r.reason ? { reason: r.reason } : {}),
    note: r.note,
    model: r.model,
    changes: r.changes.map((c) => ({ service: c.service, from: c.fromRank, to: c.toRank, why: c.why })),
    refused: r.refusedPromotions.length,
    hypotheses: r.hypotheses.map((h) => ({ statement: h.statement, evidenceIds: h.evidenceIds, confidence: h.confidence })),
    dropped: r.rejectedHypotheses.length,
    explanation: r.explanation,
    tokens: r.usage.totalTokens,
    cost: r.usage.cost,
    calls: r.usage.calls,
    toolCalls: r.toolCalls.length,
    ms: r.durationMs,
  };
}
