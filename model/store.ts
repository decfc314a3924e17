// The read side of the telemetry store, as analyzers' callers, the API, the LLM tools and
// the tuner see it. The store in agent/store implements this and TelemetrySink.

import type { MetricPoint, Snapshot, Span } from './telemetry';

export interface SpanQuery {
  fromMs?: number; // spans starting at or after
  toMs?: number; // spans starting before
  service?: string;
  instance?: string;
  operation?: string;
  traceId?: string;
  onlyErrors?: boolean;
  limit?: number;
}

export interface MetricQuery {
  fromMs?: number;
  toMs?: number;
  name?: string;
  service?: string;
  instance?: string;
  host?: string;
  limit?: number;
}

export interface StoreStats {
  spans: number;
  metricPoints: number;
  estimatedBytes: number;
  budgetBytes: number;
  windowMs: number;
  oldestMs?: number;
  newestMs?: number;
  evictedSpans: number;
  evictedMetricPoints: number;
}

/** How many spans a diagnosis reads at most by default (`detection.maxDiagnosisSpans`): ~0.4 s and ~160 MB of span objects. */
export const DEFAULT_MAX_DIAGNOSIS_SPANS = 200_000;

export interface TelemetryReader {
  /** Everything whose time falls in [fromMs, toMs). */
  snapshot(fromMs: number, toMs: number): Snapshot;
  /**
   * Like snapshot(), with at most about maxSpans spans: beyond that, whole traces are kept or
   * left out together (a uniform sample that keeps call structure). `sampled` is the fraction
   * of traces kept (1 = all). What a diagnosis reads, so its memory is bounded at any load.
   */
  sampledSnapshot(fromMs: number, toMs: number, maxSpans: number): Snapshot & { sampled: number };
  /** The spans of [fromMs, toMs) one at a time, for streaming them out (a recording) without holding them all. */
  spansInRange(fromMs: number, toMs: number): Iterable<Span>;
  querySpans(q: SpanQuery): Span[];
  queryMetrics(q: MetricQuery): MetricPoint[];
  /** Oldest and newest data time held, undefined when empty. */
  timeRange(): { fromMs: number; toMs: number } | undefined;
  stats(): StoreStats;
}
