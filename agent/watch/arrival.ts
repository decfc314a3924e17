// Telemetry in the order a live sidecar would have received it: each span when it ended and
// each metric point when it was taken, plus the exporters' batching delay, cut into steps of
// data time. What replaying the watcher over recorded data needs (bench/watch-replay.ts, the
// watcher's tests), so that offline looks see what live looks saw.

import type { MetricPoint, Span } from '../../model/telemetry';

/** The exporters' batching delay assumed between a span's end and its arrival. */
export const EXPORT_DELAY_MS = 500;

export interface ArrivalStep {
  /** Data time at the end of the step: everything that had arrived by then is in it. */
  nowMs: number;
  spans: Span[];
  metrics: MetricPoint[];
}

/** Steps of `stepMs` from the first arrival + stepMs until one step past the last arrival. */
export function* arrivalSteps(spans: Span[], metrics: MetricPoint[], stepMs: number): Generator<ArrivalStep> {
  const arrivals: Array<{ at: number; span?: Span; metric?: MetricPoint }> = [
    ...spans.map((span) => ({ at: span.startMs + span.durationMs + EXPORT_DELAY_MS, span })),
    ...metrics.map((metric) => ({ at: metric.timeMs + EXPORT_DELAY_MS, metric })),
  ].sort((a, b) => a.at - b.at);
  if (arrivals.length === 0) return;
  const end = arrivals[arrivals.length - 1].at;
  let i = 0;
  for (let nowMs = arrivals[0].at + stepMs; nowMs <= end + stepMs; nowMs += stepMs) {
    const step: ArrivalStep = { nowMs, spans: [], metrics: [] };
    for (; i < arrivals.length && arrivals[i].at <= nowMs; i++) {
      const a = arrivals[i];
      if (a.span) step.spans.push(a.span);
      else if (a.metric) step.metrics.push(a.metric);
    }
    yield step;
  }
}
