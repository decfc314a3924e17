// Replays one recorded incident: load it through the live ingest path, diagnose the
// snapshot, and only then read the ground truth to score the ranking. The per-incident
// work lives here so CLI commands (replay, bench) and later steps (e.g. an LLM re-ranking,
// which can wrap or extend replayIncident) share it.

import { diagnose } from '../../analyzers/index';
import type { Diagnosis, FaultKind } from '../../model/diagnosis';
import type { Snapshot } from '../../model/telemetry';
import type { IncidentTruth } from './format';
import { loadIncident, readIncidentTruth } from './reader';

/** One entry of the replay contract's ranking. */
export interface RankingEntry {
  service: string;
  instance?: string;
  kind: FaultKind;
  score: number;
}

export interface ReplayOptions {
  /** Passed to the analyzer. */
  maxCauses?: number;
  /** Optional step after the analyzer and before the truth is read (the LLM step, `--llm`). */
  explain?: (diagnosis: Diagnosis, snapshot: Snapshot) => Promise<Diagnosis>;
  /** Minimum ranking length when the incident has that many services (contract: 5). */
  minRanking?: number;
}

export interface ReplayResult {
  /** The folder as given on the command line. */
  incident: string;
  ms: number;
  id?: string;
  ranking?: RankingEntry[];
  error?: string;
  diagnosis?: Diagnosis;
  /** Read after ranking, for scoring only. */
  truth?: IncidentTruth;
  /** 1-based rank of the true service; undefined when not ranked or no truth. */
  truthRank?: number;
  services?: number;
  spans?: number;
  metricPoints?: number;
  warnings: string[];
}

export async function replayIncident(dir: string, options: ReplayOptions = {}): Promise<ReplayResult> {
  const started = performance.now();
  const warnings: string[] = [];
  try {
    // The meta handed on has no truth: nothing before the ranking can see the answer.
    const loaded = await loadIncident(dir, { withoutTruth: true });
    warnings.push(...loaded.warnings);
    const { snapshot, meta } = loaded;
    const deterministic = diagnose(snapshot, { id: meta.id, nowMs: snapshot.toMs, maxCauses: options.maxCauses });
    const diagnosis = options.explain ? await options.explain(deterministic, snapshot) : deterministic;
    const services = servicesOf(snapshot);
    const ranking = toRanking(diagnosis, services, options.minRanking ?? 5);
    const ms = Math.round(performance.now() - started);
    const truth = await readIncidentTruth(dir);
    const result: ReplayResult = {
      incident: dir,
      ms,
      id: meta.id,
      ranking,
      diagnosis,
      services: services.length,
      spans: snapshot.spans.length,
      metricPoints: snapshot.metrics.length,
      warnings,
    };
    if (truth) {
      result.truth = truth;
      const idx = ranking.findIndex((r) => r.service === truth.service);
      result.truthRank = idx >= 0 ? idx + 1 : undefined;
    }
    return result;
  } catch (e) {
    return { incident: dir, ms: Math.round(performance.now() - started), error: (e as Error).message || String(e), warnings };
  }
}

/** Services of the incident in order of first appearance: spans' services, then metrics'. */
export function servicesOf(snapshot: Snapshot): string[] {
  const seen = new Set<string>();
  for (const s of snapshot.spans) seen.add(s.service);
  for (const p of snapshot.metrics) if (p.service) seen.add(p.service);
  return [...seen];
}

/**
 * The analyzer's causes as the contract's ranking: best first, each service once (its
 * first, best entry). When the analyzer ranks fewer than `minLength` services and the
 * incident has more, the rest follow with score 0, so AC@k is defined for k <= 5.
 */
export function toRanking(diagnosis: Diagnosis, services: string[], minLength: number): RankingEntry[] {
  const out: RankingEntry[] = [];
  const seen = new Set<string>();
  for (const c of diagnosis.causes) {
    if (seen.has(c.service)) continue;
    seen.add(c.service);
    // Keys in the spec's order: service, instance?, kind, score.
    out.push(c.instance ? { service: c.service, instance: c.instance, kind: c.kind, score: round(c.score) } : { service: c.service, kind: c.kind, score: round(c.score) });
  }
  for (const s of services) {
    if (out.length >= minLength) break;
    if (seen.has(s)) continue;
    seen.add(s);
    out.push({ service: s, kind: 'unknown', score: 0 });
  }
  return out;
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : 0;
}

/** The contract's JSON line (spec: incident-format.md, "The replay command"). */
export function replayJsonLine(r: ReplayResult): string {
  if (r.error !== undefined) return JSON.stringify({ incident: r.incident, error: r.error });
  return JSON.stringify({ incident: r.incident, ranking: r.ranking, ms: r.ms });
}
