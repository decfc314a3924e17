// The analyzers' public surface: pure functions over a Snapshot (model/telemetry.ts).
//   diagnose        detection + localization + explanation -> Diagnosis
//   detectAnomaly   cheap change detection (the live sidecar calls it every few seconds)
//   buildServiceGraph, bucketedStats, selfTimes   graph and statistics for the API

import type { AnomalyReport, Diagnosis, Evidence, RankedCause } from '../model/diagnosis';
import type { Snapshot, Span } from '../model/telemetry';
import { changeFromFlags, detectChange, metricChange, signalsAt } from './detect';
import { localize } from './localize';
import type { ServiceScore } from './localize';
import { scoreMetrics } from './metrics';
import { metricChanges, resourceChanges } from './changes';
import { analysisPool } from './scratch';
import { buildSpanIndex, Interner } from './span-index';

export { buildServiceGraph, bucketedStats } from './graph';
export type { BucketedStats, BucketStats } from './graph';
export { detectAnomaly } from './detect';

export interface DiagnoseOptions {
  id?: string;
  nowMs?: number;
  maxCauses?: number; // default 10
  /**
   * The change to diagnose, when the caller has already found it (the live watcher). Without
   * it the change is searched for in the snapshot, and a window that also holds an earlier,
   * larger change (a recovery from the previous fault, a warm-up) would be split there: the
   * diagnosis then dates and describes that change instead of the one that was detected.
   */
  changeAtMs?: number;
}

/** Self time of each span (duration minus the union of its children's intervals), same order. */
export function selfTimes(spans: Span[]): Float64Array {
  return buildSpanIndex(spans).self;
}

const nowMs = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export function diagnose(snapshot: Snapshot, options: DiagnoseOptions = {}): Diagnosis {
  const t0 = nowMs();
  const maxCauses = options.maxCauses ?? 10;
  const baseline = snapshot.baseline;
  const hasBaseline = !!baseline && baseline.spans.length + baseline.metrics.length > 0;
  const hinted = options.changeAtMs !== undefined && options.changeAtMs > snapshot.fromMs && options.changeAtMs < snapshot.toMs;
  const detection = detectChange(snapshot, hinted ? options.changeAtMs : undefined);
  let causes: RankedCause[] = [];
  let propagationPath: string[] = [];
  let changeAtMs: number | undefined = detection.detected ? detection.changeAtMs : undefined;
  let detected = detection.detected;
  let signals = detection.signals;

  if (!detected && snapshot.metrics.length) {
    // Nothing in the spans: a resource change (leak, hog) may still show in the gauges.
    const bounds = snapshot.toMs > snapshot.fromMs ? snapshot : undefined;
    const mc = bounds ? metricChange(snapshot.metrics, bounds.fromMs, bounds.toMs) : undefined;
    if (mc) {
      detected = true;
      changeAtMs = mc.changeAtMs;
      signals = signalsAt(snapshot, changeAtMs);
    }
  }

  const baseSpans = baseline?.spans ?? [];
  const all = baseSpans.length ? baseSpans.concat(snapshot.spans) : snapshot.spans;
  const idx = buildSpanIndex(all, { services: new Interner(), ops: new Interner() }, analysisPool());
  const nBase = baseSpans.length;
  // A new version or configuration of a service inside the window is a change event.
  const bounds = windowBounds(snapshot, idx, nBase);
  const changes = [...resourceChanges(idx, (i) => i >= nBase), ...metricChanges(snapshot.metrics, bounds.fromMs, bounds.toMs)].sort((a, b) => a.atMs - b.atMs);
  if (!detected && changes.length) {
    detected = true;
    changeAtMs = changes[0].atMs;
    signals = signalsAt(snapshot, changeAtMs);
  }
  if (detected || hasBaseline) {
    const cut = idx.alloc.u8(all.length);
    markCut(idx, 0, nBase, cut);
    markCut(idx, nBase, all.length, cut);
    const phase = idx.alloc.u8(all.length);
    const setPhases = (at: number) => {
      // 0 baseline, 3 window before the change, 1 after it (see localize.ts PHASE).
      for (let i = nBase; i < all.length; i++) phase[i] = idx.start[i] >= at ? 1 : 3;
    };
    // Pass 1: judge spans against what is known to be normal (the baseline, else the part
    // before the SLI change), then place the change where flagged spans became more common;
    // pass 2 only when that moved the change (or found one the SLIs missed).
    const initialAt = changeAtMs ?? -Infinity;
    setPhases(initialAt);
    const metricsFor = (at: number) => scoreMetrics(snapshot.metrics, hasBaseline && baseline!.metrics.length ? baseline!.metrics : undefined, at);
    // An onset is dated to about a bucket either way (2 s at the least).
    const onsetAt = (at: number) => ({ atMs: at, toleranceMs: Math.max(2000, 2 * detection.bucketMs) });
    let result = localize(idx, phase, cut, metricsFor(initialAt), { changes, onset: onsetAt(initialAt) });
    const { fromMs, toMs } = windowBounds(snapshot, idx, nBase);
    const refined = changeFromFlags(idx.svc, idx.start, result.anomalous, (i) => i >= nBase, idx.services.size, fromMs, toMs);
    if (refined) {
      const moved = Math.abs(refined.changeAtMs - initialAt) > detection.bucketMs;
      changeAtMs = refined.changeAtMs;
      detected = true;
      if (moved) {
        signals = signalsAt(snapshot, changeAtMs);
        setPhases(changeAtMs);
        result = localize(idx, phase, cut, metricsFor(changeAtMs), { changes, onset: onsetAt(changeAtMs) });
      }
    }
    const top = result.ranked.slice(0, maxCauses);
    const total = top.slice(0, 3).reduce((s, c) => s + c.score, 0) || 1;
    let evId = 0;
    causes = top.map((c) => toCause(c, total, detected, () => `ev-${++evId}`));
    if (causes.length) propagationPath = result.pathOf(causes[0].service);
  }
  const anomaly: AnomalyReport = {
    detected,
    changeAtMs: detected ? changeAtMs : undefined,
    baselineSource: detected ? (hasBaseline ? 'baseline' : 'pre-change') : 'none',
    signals,
  };
  const analysisMs = nowMs() - t0;
  const summary = summarize(anomaly, causes);
  return {
    id: options.id ?? `diag-${Math.round(snapshot.toMs)}`,
    createdAtMs: options.nowMs ?? Date.now(),
    window: { fromMs: snapshot.fromMs, toMs: snapshot.toMs },
    anomaly,
    causes,
    propagationPath,
    summary,
    explanation: explain(anomaly, causes, propagationPath),
    timing: { analysisMs, spans: snapshot.spans.length, metricPoints: snapshot.metrics.length },
  };
}

function windowBounds(snapshot: Snapshot, idx: ReturnType<typeof buildSpanIndex>, from: number): { fromMs: number; toMs: number } {
  if (snapshot.toMs > snapshot.fromMs) return { fromMs: snapshot.fromMs, toMs: snapshot.toMs };
  let lo = Infinity, hi = -Infinity;
  for (let i = from; i < idx.n; i++) {
    if (idx.start[i] < lo) lo = idx.start[i];
    if (idx.start[i] > hi) hi = idx.start[i];
  }
  return hi > lo ? { fromMs: lo, toMs: hi + 1 } : { fromMs: 0, toMs: 1 };
}

/** Spans of [from, to) that end within 2 s of the last span start of that recording. */
function markCut(idx: ReturnType<typeof buildSpanIndex>, from: number, to: number, cut: Uint8Array): void {
  let last = -Infinity;
  for (let i = from; i < to; i++) if (idx.start[i] > last) last = idx.start[i];
  const edge = last - 2000;
  for (let i = from; i < to; i++) if (idx.start[i] + idx.dur[i] > edge) cut[i] = 1;
}

function pick(m: Map<string, number>): string | undefined {
  let best: string | undefined, bestV = 0;
  for (const [k, v] of m) if (v > bestV || (v === bestV && best !== undefined && k < best)) [best, bestV] = [k, v];
  return best;
}

function toCause(c: ServiceScore, topTotal: number, detected: boolean, nextId: () => string): RankedCause {
  const evidence: Evidence[] = [...c.evidence]
    .sort((a, b) => b.weight - a.weight || b.score - a.score)
    .slice(0, 6)
    .map(({ component: _c, weight: _w, kindWeight: _k, ...e }) => ({ ...e, id: nextId() }));
  const confidence = Math.max(0, Math.min(1, (c.score / topTotal) * (detected ? 1 : 0.5)));
  const cause: RankedCause = { service: c.service, kind: c.kind, score: round3(c.score), confidence: round3(confidence), evidence };
  const instance = pick(c.instanceVotes);
  if (instance && instance !== c.service) cause.instance = instance;
  const operation = pick(c.opVotes);
  if (operation) cause.operation = operation;
  return cause;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function summarize(anomaly: AnomalyReport, causes: RankedCause[]): string {
  if (!anomaly.detected && causes.length === 0) return 'No change in behaviour detected.';
  if (causes.length === 0) return 'Behaviour changed, but no service stands out.';
  const c = causes[0];
  const where = c.instance ? `${c.service} (${c.instance})` : c.service;
  return `Likely root cause: ${where}, ${c.kind}${c.operation ? ` in ${c.operation}` : ''} (confidence ${(c.confidence * 100).toFixed(0)}%).`;
}

function explain(anomaly: AnomalyReport, causes: RankedCause[], path: string[]): string {
  const lines: string[] = [];
  if (anomaly.detected) {
    lines.push(`Behaviour changed at ${new Date(anomaly.changeAtMs!).toISOString()} (normal taken from ${anomaly.baselineSource === 'baseline' ? 'the baseline recording and the window before the change' : 'the window before the change'}).`);
    const sig = anomaly.signals.slice(0, 3).map((s) => `${s.service} ${s.signal} ${fmt(s.before)} -> ${fmt(s.after)}`);
    if (sig.length) lines.push(`Strongest symptoms: ${sig.join('; ')}.`);
  } else {
    lines.push(anomaly.baselineSource === 'none' && causes.length ? 'No clear change point; the window was compared with the baseline as a whole.' : 'No change in behaviour detected.');
  }
  causes.slice(0, 3).forEach((c, i) => {
    const ev = c.evidence.slice(0, 3).map((e) => `${e.title} [${e.id}]`).join('; ');
    lines.push(`${i + 1}. ${c.service}${c.instance ? ` (${c.instance})` : ''}: ${c.kind}, score ${c.score.toFixed(2)}, confidence ${(c.confidence * 100).toFixed(0)}%. ${ev}`);
  });
  if (path.length > 1) lines.push(`Propagation: ${path.join(' -> ')}.`);
  return lines.join('\n');
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}
