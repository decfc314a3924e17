// Small read-only views over spans for the evidence packet and the tools: RED statistics
// per service and per caller->callee edge, split before/after the detected change.
// Kept here (not in analyzers/) because they shape what the model sees, not the ranking.

import type { Span } from '../model/telemetry';
import { SpanKind, StatusCode } from '../model/telemetry';

export interface Red {
  calls: number;
  errors: number;
  errorRate: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : 0);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function isError(s: Span): boolean {
  return s.status === StatusCode.ERROR || s.exceptionCount > 0;
}

export function red(durations: number[], errors: number): Red {
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    calls: sorted.length,
    errors,
    errorRate: sorted.length ? round(errors / sorted.length, 4) : 0,
    p50Ms: round(quantile(sorted, 0.5)),
    p95Ms: round(quantile(sorted, 0.95)),
    maxMs: round(sorted[sorted.length - 1] ?? 0),
  };
}

export function redOf(spans: Span[]): Red {
  return red(
    spans.map((s) => s.durationMs),
    spans.filter(isError).length,
  );
}

/** Server spans, or local roots, of one service: what its callers experience. */
export function entrySpans(spans: Span[], service: string, byId: Map<string, Span>): Span[] {
  return spans.filter((s) => {
    if (s.service !== service) return false;
    if (s.kind === SpanKind.SERVER || s.kind === SpanKind.CONSUMER) return true;
    const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
    return !parent || parent.service !== s.service;
  });
}

export interface EdgeSample {
  from: string;
  to: string;
  durationMs: number;
  error: boolean;
  startMs: number;
}

/** Caller -> callee calls as the caller measured them (its client span when there is one). */
export function edgeSamples(spans: Span[]): EdgeSample[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const paired = new Set<string>();
  const out: EdgeSample[] = [];
  for (const s of spans) {
    const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
    if (!parent || parent.service === s.service) continue;
    const measured = parent.kind === SpanKind.CLIENT || parent.kind === SpanKind.PRODUCER ? parent : s;
    paired.add(parent.spanId);
    out.push({ from: parent.service, to: s.service, durationMs: measured.durationMs, error: isError(measured) || isError(s), startMs: measured.startMs });
  }
  // Client spans whose peer is not instrumented (a database, a cache): name the peer from attributes.
  for (const s of spans) {
    if (s.kind !== SpanKind.CLIENT || paired.has(s.spanId)) continue;
    const peer = s.attributes['peer.service'] ?? s.attributes['db.system'] ?? s.attributes['server.address'];
    if (typeof peer !== 'string' || peer === '') continue;
    out.push({ from: s.service, to: peer, durationMs: s.durationMs, error: isError(s), startMs: s.startMs });
  }
  return out;
}

export function edgeRed(samples: EdgeSample[]): Red {
  return red(
    samples.map((e) => e.durationMs),
    samples.filter((e) => e.error).length,
  );
}

export function splitAt<T>(items: T[], timeOf: (t: T) => number, atMs: number): { before: T[]; after: T[] } {
  const before: T[] = [];
  const after: T[] = [];
  for (const it of items) (timeOf(it) < atMs ? before : after).push(it);
  return { before, after };
}
