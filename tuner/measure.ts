// Reads one evaluation window of a service from the telemetry store: request rate, p99,
// error rate, request mix from its server spans; utilisation and queue depth from metric
// points. Also the within-window trend (second-half vs first-half p99, queue slope), because
// a short window near capacity shows a fine p99 while the queue grows.

import type { TelemetryReader } from '../model/store';
import { SpanKind, StatusCode, type Span } from '../model/telemetry';

export interface MeasureQuery {
  service: string;
  fromMs: number;
  toMs: number;
  /** Restrict to these instances (a canary or the baseline cohort); all when absent. */
  instances?: string[];
  /** Gauge giving utilisation in [0,1] (e.g. 'process.cpu.utilization'); mean over the window. */
  utilisationMetric?: string;
  /** Gauge giving queue depth; its least-squares slope over the window is reported. */
  queueMetric?: string;
  /** Also return the latency samples and error count (for the canary's statistical tests). */
  samples?: boolean;
}

export interface WindowMeasurement {
  fromMs: number;
  toMs: number;
  requests: number;
  ratePerS: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  errorRate: number;
  /** p99 of the first and second half of the window. */
  p99FirstHalfMs: number;
  p99SecondHalfMs: number;
  utilisation?: number;
  queueDepth?: number;
  queueSlopePerS?: number;
  /** Share of requests per operation name. */
  mix: Record<string, number>;
  /** Latencies (ms, ascending) and the number of errors, when `samples` was asked for. */
  latenciesMs?: number[];
  errors?: number;
  /** Latencies (ms, ascending) of the first and the second half of the window, with `samples`. */
  halvesMs?: [number[], number[]];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** The service's requests: its SERVER spans, or its root spans when it emits none. */
export function serviceRequests(spans: Span[]): Span[] {
  const server = spans.filter((s) => s.kind === SpanKind.SERVER || s.kind === SpanKind.CONSUMER);
  return server.length ? server : spans.filter((s) => s.parentSpanId === '');
}

export function measureWindow(reader: TelemetryReader, q: MeasureQuery): WindowMeasurement {
  const inInstances = (inst: string) => !q.instances || q.instances.includes(inst);
  const spans = serviceRequests(reader.querySpans({ service: q.service, fromMs: q.fromMs, toMs: q.toMs }).filter((s) => inInstances(s.instance)));
  const durations = spans.map((s) => s.durationMs).sort((a, b) => a - b);
  const mid = (q.fromMs + q.toMs) / 2;
  const first = spans.filter((s) => s.startMs < mid).map((s) => s.durationMs).sort((a, b) => a - b);
  const second = spans.filter((s) => s.startMs >= mid).map((s) => s.durationMs).sort((a, b) => a - b);
  const errors = spans.filter((s) => s.status === StatusCode.ERROR).length;
  const mix: Record<string, number> = {};
  for (const s of spans) mix[s.name] = (mix[s.name] ?? 0) + 1 / spans.length;
  const seconds = Math.max(1e-3, (q.toMs - q.fromMs) / 1000);
  const m: WindowMeasurement = {
    fromMs: q.fromMs,
    toMs: q.toMs,
    requests: spans.length,
    ratePerS: spans.length / seconds,
    p50Ms: quantile(durations, 0.5),
    p99Ms: quantile(durations, 0.99),
    meanMs: durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : Number.NaN,
    errorRate: spans.length ? errors / spans.length : 0,
    p99FirstHalfMs: quantile(first, 0.99),
    p99SecondHalfMs: quantile(second, 0.99),
    mix,
  };
  if (q.samples) {
    m.latenciesMs = durations;
    m.errors = errors;
    m.halvesMs = [first, second];
  }
  if (q.utilisationMetric) {
    const pts = reader.queryMetrics({ name: q.utilisationMetric, service: q.service, fromMs: q.fromMs, toMs: q.toMs }).filter((p) => inInstances(p.instance));
    if (pts.length) m.utilisation = pts.reduce((a, p) => a + p.value, 0) / pts.length;
  }
  if (q.queueMetric) {
    const pts = reader.queryMetrics({ name: q.queueMetric, service: q.service, fromMs: q.fromMs, toMs: q.toMs }).filter((p) => inInstances(p.instance));
    if (pts.length) {
      m.queueDepth = pts[pts.length - 1].value;
      if (pts.length >= 3) {
        const xs = pts.map((p) => p.timeMs / 1000);
        const ys = pts.map((p) => p.value);
        const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
        const my = ys.reduce((a, b) => a + b, 0) / ys.length;
        let sxy = 0;
        let sxx = 0;
        for (let i = 0; i < xs.length; i++) {
          sxy += (xs[i] - mx) * (ys[i] - my);
          sxx += (xs[i] - mx) * (xs[i] - mx);
        }
        m.queueSlopePerS = sxx > 0 ? sxy / sxx : 0;
      }
    }
  }
  return m;
}
