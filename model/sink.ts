// How collectors hand data to whatever keeps it (the store, a forwarder, a test).
// Modelled on the OpenTelemetry Collector's consumer: the result says whether a refusal
// is retryable (the sender should back off and retry: 429/503) or permanent (400).

import type { MetricPoint, Span } from './telemetry';

export type ConsumeResult =
  | { ok: true; accepted: number; rejected: number; rejectionMessage?: string }
  | { ok: false; retryable: true; retryAfterSeconds: number; message: string }
  | { ok: false; retryable: false; message: string };

export interface TelemetrySink {
  consumeSpans(spans: Span[]): ConsumeResult;
  consumeMetrics(points: MetricPoint[]): ConsumeResult;
}
