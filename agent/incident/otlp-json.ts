// Encoder from the telemetry model to OTLP/JSON export requests, as an OpenTelemetry
// Collector's file exporter writes them (one request per line): hex ids, 64-bit integers
// as decimal strings, enums as integers, typed attribute values. The reader decodes these
// lines with the same decoder the live OTLP receiver uses, so a round trip is lossless up
// to the model's own time resolution.

import type { Attributes, AttributeValue, MetricPoint, Span } from '../../model/telemetry';

export const SCOPE_NAME = 'faultline.incident';
const AGGREGATION_TEMPORALITY_CUMULATIVE = 2;

export interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string;
  doubleValue?: number | string;
  boolValue?: boolean;
}
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

/** ms since epoch (float) -> ns since epoch as a decimal string, exact for the ms's integer part. */
export function msToUnixNanoString(ms: number): string {
  return msToUnixNano(ms).toString();
}

export function msToUnixNano(ms: number): bigint {
  let whole = Math.floor(ms);
  let fracNs = Math.round((ms - whole) * 1e6);
  if (fracNs >= 1_000_000) {
    whole += 1;
    fracNs -= 1_000_000;
  }
  return BigInt(whole) * 1_000_000n + BigInt(fracNs);
}

function jsonDouble(v: number): number | string {
  // OTLP/JSON spells the non-finite doubles as strings.
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

export function encodeAnyValue(v: AttributeValue): OtlpAnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Number.isSafeInteger(v)) return { intValue: String(v) };
  return { doubleValue: jsonDouble(v) };
}

export function encodeAttributes(attrs: Attributes | Record<string, string>): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const key of Object.keys(attrs)) out.push({ key, value: encodeAnyValue(attrs[key]) });
  return out;
}

interface ResourceIdentity {
  service: string;
  instance: string;
  host: string;
  extra?: Attributes;
}

/** Resource attributes by the semantic conventions the analyzer relies on, then the rest. */
export function encodeResource(r: ResourceIdentity): { attributes: OtlpKeyValue[] } {
  const attributes: OtlpKeyValue[] = [];
  if (r.service) attributes.push({ key: 'service.name', value: { stringValue: r.service } });
  if (r.instance) attributes.push({ key: 'service.instance.id', value: { stringValue: r.instance } });
  if (r.host) attributes.push({ key: 'host.name', value: { stringValue: r.host } });
  if (r.extra) {
    for (const key of Object.keys(r.extra)) {
      if (key === 'service.name' || key === 'service.instance.id' || key === 'host.name') continue;
      attributes.push({ key, value: encodeAnyValue(r.extra[key]) });
    }
  }
  return { attributes };
}

function spanResourceKey(s: Span): string {
  const keys = Object.keys(s.resource);
  if (keys.length === 0) return `${s.service}\u0000${s.instance}\u0000${s.host}`;
  keys.sort();
  return `${s.service}\u0000${s.instance}\u0000${s.host}\u0000${keys.map((k) => `${k}=${String(s.resource[k])}`).join('\u0000')}`;
}

export function encodeSpan(s: Span): Record<string, unknown> {
  const start = msToUnixNano(s.startMs);
  const end = start + BigInt(Math.round(s.durationMs * 1e6));
  const out: Record<string, unknown> = {
    traceId: s.traceId,
    spanId: s.spanId,
  };
  if (s.parentSpanId) out.parentSpanId = s.parentSpanId;
  out.name = s.name;
  out.kind = s.kind;
  out.startTimeUnixNano = start.toString();
  out.endTimeUnixNano = end.toString();
  const attributes = encodeAttributes(s.attributes);
  if (attributes.length) out.attributes = attributes;
  if (s.exceptionCount > 0) {
    // The model keeps only how many "exception" events there were; write that many.
    const t = end.toString();
    out.events = Array.from({ length: s.exceptionCount }, () => ({ timeUnixNano: t, name: 'exception' }));
  }
  const status: Record<string, unknown> = {};
  if (s.status) status.code = s.status;
  if (s.statusMessage) status.message = s.statusMessage;
  out.status = status;
  return out;
}

/**
 * Spans -> ExportTraceServiceRequest objects, at most `maxSpansPerRequest` spans each, in
 * the order given, spans of one resource grouped under one resourceSpans entry.
 */
export function* encodeTraceRequests(spans: Iterable<Span>, maxSpansPerRequest = 1000): Generator<Record<string, unknown>> {
  let batch: Span[] = [];
  for (const s of spans) {
    batch.push(s);
    if (batch.length >= maxSpansPerRequest) {
      yield traceRequest(batch);
      batch = [];
    }
  }
  if (batch.length) yield traceRequest(batch);
}

function traceRequest(batch: Span[]): Record<string, unknown> {
  const groups = new Map<string, { first: Span; spans: Record<string, unknown>[] }>();
  for (const s of batch) {
    const key = spanResourceKey(s);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { first: s, spans: [] }));
    g.spans.push(encodeSpan(s));
  }
  return {
    resourceSpans: Array.from(groups.values(), (g) => ({
      resource: encodeResource({ service: g.first.service, instance: g.first.instance, host: g.first.host, extra: g.first.resource }),
      scopeSpans: [{ scope: { name: SCOPE_NAME }, spans: g.spans }],
    })),
  };
}

function encodeDataPoint(p: MetricPoint): Record<string, unknown> {
  const base: Record<string, unknown> = {};
  const attributes = encodeAttributes(p.labels);
  if (attributes.length) base.attributes = attributes;
  base.timeUnixNano = msToUnixNanoString(p.timeMs);
  switch (p.kind) {
    case 'histogram':
      base.count = String(p.count ?? 0);
      base.sum = jsonDouble(p.value);
      base.bucketCounts = (p.bucketCounts ?? []).map((c) => String(c));
      base.explicitBounds = (p.bucketBounds ?? []).map(jsonDouble);
      return base;
    case 'summary':
      base.count = String(p.count ?? 0);
      base.sum = jsonDouble(p.value);
      base.quantileValues = (p.quantiles ?? []).map((q) => ({ quantile: q.quantile, value: jsonDouble(q.value) }));
      return base;
    default:
      base.asDouble = jsonDouble(p.value);
      return base;
  }
}

function encodeMetric(name: string, unit: string, kind: MetricPoint['kind'], dataPoints: Record<string, unknown>[]): Record<string, unknown> {
  const m: Record<string, unknown> = { name };
  if (unit) m.unit = unit;
  switch (kind) {
    case 'gauge':
      m.gauge = { dataPoints };
      break;
    case 'counter':
      m.sum = { dataPoints, aggregationTemporality: AGGREGATION_TEMPORALITY_CUMULATIVE, isMonotonic: true };
      break;
    case 'updowncounter':
      m.sum = { dataPoints, aggregationTemporality: AGGREGATION_TEMPORALITY_CUMULATIVE, isMonotonic: false };
      break;
    case 'histogram':
      m.histogram = { dataPoints, aggregationTemporality: AGGREGATION_TEMPORALITY_CUMULATIVE };
      break;
    case 'summary':
      m.summary = { dataPoints };
      break;
  }
  return m;
}

/**
 * Metric points -> ExportMetricsServiceRequest objects, at most `maxPointsPerRequest` points
 * each; points of one resource (service, instance, host) share a resourceMetrics entry and
 * points of one metric share a metric entry.
 */
export function* encodeMetricRequests(points: Iterable<MetricPoint>, maxPointsPerRequest = 1000): Generator<Record<string, unknown>> {
  let batch: MetricPoint[] = [];
  for (const p of points) {
    batch.push(p);
    if (batch.length >= maxPointsPerRequest) {
      yield metricRequest(batch);
      batch = [];
    }
  }
  if (batch.length) yield metricRequest(batch);
}

function metricRequest(batch: MetricPoint[]): Record<string, unknown> {
  const resources = new Map<string, { first: MetricPoint; metrics: Map<string, { p: MetricPoint; points: Record<string, unknown>[] }> }>();
  for (const p of batch) {
    const rk = `${p.service}\u0000${p.instance}\u0000${p.host}`;
    let r = resources.get(rk);
    if (!r) resources.set(rk, (r = { first: p, metrics: new Map() }));
    const mk = `${p.name}\u0000${p.unit}\u0000${p.kind}`;
    let m = r.metrics.get(mk);
    if (!m) r.metrics.set(mk, (m = { p, points: [] }));
    m.points.push(encodeDataPoint(p));
  }
  return {
    resourceMetrics: Array.from(resources.values(), (r) => ({
      resource: encodeResource({ service: r.first.service, instance: r.first.instance, host: r.first.host }),
      scopeMetrics: [
        {
          scope: { name: SCOPE_NAME },
          metrics: Array.from(r.metrics.values(), (m) => encodeMetric(m.p.name, m.p.unit, m.p.kind, m.points)),
        },
      ],
    })),
  };
}
