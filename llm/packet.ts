// The compact evidence packet: what the model is shown first. It carries the deterministic
// result (anomaly, top-k candidates with their evidence ids, the part of the graph around
// them) and the names that exist in the data, so the model has no reason to invent any.
// Everything string-valued is redacted here; numbers (times, measurements) pass as they are.

import type { Diagnosis, Evidence } from '../model/diagnosis';
import { DEFAULT_MAX_DIAGNOSIS_SPANS, type TelemetryReader } from '../model/store';
import type { MetricPoint, Span } from '../model/telemetry';
import type { Redactor } from './redact';
import { edgeRed, edgeSamples, splitAt, type Red } from './views';

/** The world the investigation may talk about: the diagnosis plus the data of its window. */
export interface InvestigationContext {
  diagnosis: Diagnosis;
  reader?: TelemetryReader;
  spans: Span[];
  metrics: MetricPoint[];
  /** Where "before" ends and "after" begins. */
  splitMs: number;
  services: Set<string>;
  instances: Set<string>;
  metricNames: Set<string>;
  evidenceById: Map<string, { evidence: Evidence; candidate?: string }>;
}

export function buildContext(diagnosis: Diagnosis, reader: TelemetryReader | undefined): InvestigationContext {
  // The names the answer may use: those of the window, from a bounded sample of whole traces
  // (the diagnosis itself named nothing outside such a sample).
  const snap = reader ? reader.sampledSnapshot(diagnosis.window.fromMs, diagnosis.window.toMs, DEFAULT_MAX_DIAGNOSIS_SPANS) : undefined;
  const spans = snap?.spans ?? [];
  const metrics = snap?.metrics ?? [];
  const services = new Set<string>();
  const instances = new Set<string>();
  const metricNames = new Set<string>();
  for (const s of spans) {
    services.add(s.service);
    instances.add(s.instance);
  }
  for (const e of edgeSamples(spans)) services.add(e.to);
  for (const m of metrics) {
    metricNames.add(m.name);
    if (m.service) services.add(m.service);
    if (m.instance) instances.add(m.instance);
  }
  const evidenceById = new Map<string, { evidence: Evidence; candidate?: string }>();
  for (const c of diagnosis.causes) {
    services.add(c.service);
    if (c.instance) instances.add(c.instance);
    for (const ev of c.evidence) {
      if (!evidenceById.has(ev.id)) evidenceById.set(ev.id, { evidence: ev, candidate: c.service });
      services.add(ev.service);
      if (ev.instance) instances.add(ev.instance);
      if (ev.edge) {
        services.add(ev.edge.from);
        services.add(ev.edge.to);
      }
      if (ev.series) metricNames.add(ev.series.split('{')[0]);
    }
  }
  for (const s of diagnosis.propagationPath) services.add(s);
  for (const sig of diagnosis.anomaly.signals) services.add(sig.service);
  const splitMs = diagnosis.anomaly.changeAtMs ?? (diagnosis.window.fromMs + diagnosis.window.toMs) / 2;
  return { diagnosis, reader, spans, metrics, splitMs, services, instances, metricNames, evidenceById };
}

function compactEvidence(ev: Evidence) {
  // Points are left out: the metric_series tool gives a series when the model wants one.
  const { points: _points, ...rest } = ev;
  void _points;
  return rest;
}

function compactRed(r: Red) {
  return { calls: r.calls, errorRate: r.errorRate, p50Ms: r.p50Ms, p95Ms: r.p95Ms };
}

export function buildEvidencePacket(ctx: InvestigationContext, topK: number, redactor: Redactor) {
  const d = ctx.diagnosis;
  const candidates = d.causes.slice(0, topK).map((c, i) => ({
    rank: i + 1,
    service: c.service,
    instance: c.instance,
    operation: c.operation,
    kind: c.kind,
    score: Math.round(c.score * 1000) / 1000,
    confidence: Math.round(c.confidence * 1000) / 1000,
    evidence: c.evidence.slice(0, 8).map(compactEvidence),
  }));
  // The relevant part of the graph: edges touching a candidate or the propagation path.
  const focus = new Set([...candidates.map((c) => c.service), ...d.propagationPath]);
  const byEdge = new Map<string, ReturnType<typeof edgeSamples>>();
  for (const e of edgeSamples(ctx.spans)) {
    if (!focus.has(e.from) && !focus.has(e.to)) continue;
    const k = `${e.from}\u0000${e.to}`;
    const list = byEdge.get(k) ?? [];
    list.push(e);
    byEdge.set(k, list);
  }
  const edges = [...byEdge.values()]
    .map((samples) => {
      const { before, after } = splitAt(samples, (e) => e.startMs, ctx.splitMs);
      return { from: samples[0].from, to: samples[0].to, before: compactRed(edgeRed(before)), after: compactRed(edgeRed(after)) };
    })
    .sort((a, b) => b.after.calls - a.after.calls)
    .slice(0, 20);
  const packet = {
    diagnosisId: d.id,
    window: { fromMs: d.window.fromMs, toMs: d.window.toMs, changeAtMs: d.anomaly.changeAtMs ?? null },
    summary: d.summary,
    deterministicExplanation: d.explanation.slice(0, 1500),
    anomaly: {
      detected: d.anomaly.detected,
      baselineSource: d.anomaly.baselineSource,
      signals: [...d.anomaly.signals].sort((a, b) => b.score - a.score).slice(0, 8),
    },
    candidates,
    propagationPath: d.propagationPath,
    graph: { edges },
    known: {
      services: [...ctx.services].sort().slice(0, 80),
      instances: [...ctx.instances].sort().slice(0, 80),
      metrics: [...ctx.metricNames].sort().slice(0, 60),
    },
  };
  return redactor.deep(packet);
}

export type EvidencePacket = ReturnType<typeof buildEvidencePacket>;
