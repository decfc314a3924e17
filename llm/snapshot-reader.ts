// A TelemetryReader over one Snapshot, so the LLM tools work where there is no live store
// (replay of a recorded incident, a diagnosis computed from an uploaded archive).

import type { MetricQuery, SpanQuery, StoreStats, TelemetryReader } from '../model/store';
import type { Snapshot } from '../model/telemetry';

export function snapshotReader(snapshot: Snapshot): TelemetryReader {
  const { spans, metrics } = snapshot;
  const inRange = (t: number, from?: number, to?: number) => (from === undefined || t >= from) && (to === undefined || t < to);
  const snapshotOf = (fromMs: number, toMs: number): Snapshot => ({
    fromMs,
    toMs,
    spans: spans.filter((s) => inRange(s.startMs, fromMs, toMs)),
    metrics: metrics.filter((m) => inRange(m.timeMs, fromMs, toMs)),
  });
  return {
    snapshot: snapshotOf,
    // The spans are in memory already: sampling would save nothing.
    sampledSnapshot: (fromMs, toMs) => ({ ...snapshotOf(fromMs, toMs), sampled: 1 }),
    spansInRange: (fromMs, toMs) => spans.filter((s) => inRange(s.startMs, fromMs, toMs)),
    querySpans: (q: SpanQuery) => {
      const out = spans.filter(
        (s) =>
          inRange(s.startMs, q.fromMs, q.toMs) &&
          (q.service === undefined || s.service === q.service) &&
          (q.instance === undefined || s.instance === q.instance) &&
          (q.operation === undefined || s.name === q.operation) &&
          (q.traceId === undefined || s.traceId === q.traceId) &&
          (!q.onlyErrors || s.status === 2),
      );
      return q.limit !== undefined ? out.slice(0, q.limit) : out;
    },
    queryMetrics: (q: MetricQuery) => {
      const out = metrics.filter(
        (m) =>
          inRange(m.timeMs, q.fromMs, q.toMs) &&
          (q.name === undefined || m.name === q.name) &&
          (q.service === undefined || m.service === q.service) &&
          (q.instance === undefined || m.instance === q.instance) &&
          (q.host === undefined || m.host === q.host),
      );
      return q.limit !== undefined ? out.slice(0, q.limit) : out;
    },
    timeRange: () => (spans.length || metrics.length ? { fromMs: snapshot.fromMs, toMs: snapshot.toMs } : undefined),
    stats: (): StoreStats => ({
      spans: spans.length,
      metricPoints: metrics.length,
      estimatedBytes: 0,
      budgetBytes: 0,
      windowMs: snapshot.toMs - snapshot.fromMs,
      oldestMs: snapshot.fromMs,
      newestMs: snapshot.toMs,
      evictedSpans: 0,
      evictedMetricPoints: 0,
    }),
  };
}
