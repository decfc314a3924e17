// The normalized telemetry model shared by collectors, the store, analyzers and the tuner.
// Nothing here imports a server, a receiver or a storage engine: it is plain data.

/** OTLP span kinds, numbered as the OTLP protobuf enum does. */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

/** OTLP status codes. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/**
 * One span, flattened with its resource. Times are milliseconds since the Unix epoch as
 * floats: start keeps ~0.25 µs resolution at today's epoch, duration is exact to the ns
 * (Math.round(durationMs * 1e6) gives back the sent nanoseconds).
 */
export interface Span {
  traceId: string; // 32 lowercase hex chars
  spanId: string; // 16 lowercase hex chars
  parentSpanId: string; // '' for a root span
  service: string; // resource service.name ('unknown_service' when absent)
  instance: string; // resource service.instance.id, else host.name, else service
  host: string; // resource host.name ('' when absent)
  name: string; // operation name
  kind: SpanKind;
  startMs: number;
  durationMs: number;
  status: StatusCode;
  statusMessage: string;
  /** Span attributes (values as sent; arrays/maps are JSON-encoded strings). */
  attributes: Attributes;
  /** Resource attributes other than the three promoted above. */
  resource: Attributes;
  /** Number of span events named "exception" (error evidence without a status). */
  exceptionCount: number;
}

export type MetricKind = 'gauge' | 'counter' | 'updowncounter' | 'histogram' | 'summary';

/**
 * One metric data point attributed to a service instance or a host. Counters are
 * cumulative as sent (analyzers derive rates); histograms/summaries carry sum and count in
 * `value`/`count` and their buckets or quantiles.
 */
export interface MetricPoint {
  name: string; // e.g. 'system.cpu.utilization', 'http_requests_total'
  unit: string; // UCUM unit as sent, '' when unknown
  kind: MetricKind;
  service: string; // '' for a host-level series
  instance: string;
  host: string;
  /** Data point attributes / Prometheus labels (not the resource). */
  labels: Record<string, string>;
  timeMs: number;
  /** gauge/counter value; histogram/summary: sum. */
  value: number;
  count?: number;
  bucketBounds?: number[];
  bucketCounts?: number[];
  quantiles?: Array<{ quantile: number; value: number }>;
  /** Set when an OTLP sum/histogram was sent with delta temporality (each point is an increment, not a running total). */
  temporality?: 'delta';
}

/** A stable key for one series: name + attribution + labels. */
export function seriesKey(p: Pick<MetricPoint, 'name' | 'service' | 'instance' | 'host' | 'labels'>): string {
  const labelKeys = Object.keys(p.labels).sort();
  const labels = labelKeys.map((k) => `${k}=${p.labels[k]}`).join(',');
  return `${p.name}{service=${p.service},instance=${p.instance},host=${p.host}${labels ? ',' + labels : ''}}`;
}

/** A window of the world handed to analyzers: pure data, so live and replay share code. */
export interface Snapshot {
  fromMs: number;
  toMs: number;
  spans: Span[];
  metrics: MetricPoint[];
  /**
   * A fault-free recording to take "normal" from (an incident's baseline/ folder).
   * Absent in live use: analyzers then take normal from the part of the window before
   * the change they detect.
   */
  baseline?: { spans: Span[]; metrics: MetricPoint[] };
}
