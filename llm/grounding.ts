// Grounding: what of the model's answer the final diagnosis may keep.
//
// - A hypothesis is kept only if every service, instance and metric it names exists in the
//   data (the window's telemetry or the diagnosis), and it cites at least one evidence id,
//   all of which exist (diagnosis evidence, or an ok tool result 'tool-N').
// - The explanation is kept only if every [id] it cites exists; otherwise the deterministic
//   explanation stands.
// - Re-ranking: only candidates of the deterministic diagnosis can be ranked. A candidate may
//   move above one that was ahead of it only when the model cites, for it, at least one of its
//   own evidence items (of that candidate or about that service) with score >=
//   promoteMinEvidenceScore. Otherwise it keeps its place relative to those ahead of it, so
//   an unsupported promotion can never push the deterministic top candidate down.

import type { Evidence, RankedCause } from '../model/diagnosis';
import type { InvestigationContext } from './packet';
import type { Hypothesis, LlmAnswer, NextCheck } from './schema';

export interface RankChange {
  service: string;
  fromRank: number; // 1-based, deterministic
  toRank: number;
  why: string;
  evidenceIds: string[];
}

export interface RefusedPromotion {
  service: string;
  reason: string;
}

export interface GroundedAnswer {
  hypotheses: Hypothesis[];
  rejectedHypotheses: Array<{ hypothesis: Hypothesis; reason: string }>;
  causes: RankedCause[]; // re-ranked (deterministic scores re-assigned by position)
  changes: RankChange[];
  refused: RefusedPromotion[];
  explanation?: string; // undefined when rejected
  explanationRejected?: string;
  nextChecks: NextCheck[];
}

/** Ids written as [ev-3] or [tool-2] in free text. */
export function citedIds(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\[([A-Za-z][A-Za-z0-9_.:-]*)\]/g)) out.push(m[1]);
  return out;
}

function hypothesisProblem(h: Hypothesis, ctx: InvestigationContext, knownIds: Set<string>): string | undefined {
  for (const s of h.services) if (!ctx.services.has(s)) return `names service ${JSON.stringify(s)} that is not in the data`;
  for (const i of h.instances) if (!ctx.instances.has(i)) return `names instance ${JSON.stringify(i)} that is not in the data`;
  for (const m of h.metrics) {
    const name = m.split('{')[0];
    if (!ctx.metricNames.has(name)) return `names metric ${JSON.stringify(m)} that is not in the data`;
  }
  if (h.evidenceIds.length === 0) return 'cites no evidence';
  for (const id of [...h.evidenceIds, ...citedIds(h.statement)]) if (!knownIds.has(id)) return `cites unknown evidence id ${JSON.stringify(id)}`;
  return undefined;
}

function supportingEvidence(cause: RankedCause, ids: string[], ctx: InvestigationContext, minScore: number): Evidence | undefined {
  for (const id of ids) {
    const own = cause.evidence.find((e) => e.id === id) ?? ctx.evidenceById.get(id)?.evidence;
    if (!own) continue;
    const belongs = cause.evidence.some((e) => e.id === id) || own.service === cause.service;
    if (belongs && own.score >= minScore) return own;
  }
  return undefined;
}

export function groundAnswer(answer: LlmAnswer, ctx: InvestigationContext, toolIds: Set<string>, promoteMinEvidenceScore: number): GroundedAnswer {
  const knownIds = new Set([...ctx.evidenceById.keys(), ...toolIds]);
  const hypotheses: Hypothesis[] = [];
  const rejectedHypotheses: GroundedAnswer['rejectedHypotheses'] = [];
  for (const h of answer.hypotheses) {
    const problem = hypothesisProblem(h, ctx, knownIds);
    if (problem) rejectedHypotheses.push({ hypothesis: h, reason: problem });
    else hypotheses.push(h);
  }

  // Re-ranking.
  const original = ctx.diagnosis.causes;
  const index = new Map(original.map((c, i) => [c.service, i]));
  const refused: RefusedPromotion[] = [];
  const proposal: Array<{ cause: RankedCause; reason: string; evidenceIds: string[] }> = [];
  const seen = new Set<string>();
  for (const r of answer.ranking) {
    const i = index.get(r.service);
    if (i === undefined) {
      refused.push({ service: r.service, reason: 'not a candidate of the deterministic diagnosis' });
      continue;
    }
    if (seen.has(r.service)) continue;
    seen.add(r.service);
    proposal.push({ cause: original[i], reason: r.reason, evidenceIds: r.evidenceIds });
  }
  for (const c of original) if (!seen.has(c.service)) proposal.push({ cause: c, reason: '', evidenceIds: [] });

  const placed: typeof proposal = [];
  const placedSet = new Set<string>();
  const eligible = new Map<string, boolean>();
  for (const p of proposal) {
    const ok = supportingEvidence(p.cause, p.evidenceIds, ctx, promoteMinEvidenceScore) !== undefined;
    eligible.set(p.cause.service, ok);
  }
  while (placed.length < original.length) {
    const head = original.find((c) => !placedSet.has(c.service))!;
    const next = proposal.find((p) => !placedSet.has(p.cause.service))!;
    // Only an eligible candidate may overtake one that was ahead of it.
    const take = next.cause.service === head.service || eligible.get(next.cause.service) ? next : proposal.find((p) => p.cause.service === head.service)!;
    placed.push(take);
    placedSet.add(take.cause.service);
  }
  // Report every promotion the model asked for and did not get.
  proposal.forEach((p, wanted) => {
    const from = index.get(p.cause.service)!;
    if (wanted < from && !eligible.get(p.cause.service) && seen.has(p.cause.service))
      refused.push({
        service: p.cause.service,
        reason: `promotion from rank ${from + 1} to ${wanted + 1} refused: no cited evidence of its own with score >= ${promoteMinEvidenceScore}`,
      });
  });
  const scores = original.map((c) => c.score).sort((a, b) => b - a);
  const causes = placed.map((p, i) => ({ ...p.cause, score: scores[i] }));
  const changes: RankChange[] = [];
  placed.forEach((p, i) => {
    const from = index.get(p.cause.service)!;
    if (from !== i) changes.push({ service: p.cause.service, fromRank: from + 1, toRank: i + 1, why: p.reason || 'moved by the promotion of another candidate', evidenceIds: p.evidenceIds });
  });

  const badCites = citedIds(answer.explanation).filter((id) => !knownIds.has(id));
  return {
    hypotheses,
    rejectedHypotheses,
    causes,
    changes,
    refused,
    explanation: badCites.length ? undefined : answer.explanation,
    explanationRejected: badCites.length ? `explanation cites unknown evidence ${badCites.map((x) => JSON.stringify(x)).join(', ')}` : undefined,
    nextChecks: answer.nextChecks,
  };
}
