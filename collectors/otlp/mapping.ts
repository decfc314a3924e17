// Encoder-neutral half of the OTLP decoders: the protobuf and JSON readers each walk their
// wire format and hand the same raw fields to the builders here, which validate them and
// map them to the model's Span / MetricPoint. So both encodings accept, reject and name
// things identically, and the mapping rules live in one place.

import type { AttributeValue, Attributes, MetricKind, MetricPoint, Span, SpanKind, StatusCode } from '../../model/telemetry';

/** A request that is malformed as a whole (truncated protobuf, wrong JSON type, ...): answered 400. */
export class OtlpDecodeError extends Error {
  constructor(
    readonly detail: string,
    /** Where in the request, outermost first, e.g. ['resourceSpans[0]', 'scopeSpans[1]', 'spans[3]', 'traceId']. */
    readonly path: string[] = [],
  ) {
    super(path.length ? `${path.join('.')}: ${detail}` : detail);
    this.name = 'OtlpDecodeError';
  }

  /** The same error one level further out (decoders rethrow with their own segment). */
  within(segment: string): OtlpDecodeError {
    return new OtlpDecodeError(this.detail, [segment, ...this.path]);
  }
}

/** Wrap anything a reader threw (RangeError from protobufjs, TypeError) as a located decode error. */
export function located(e: unknown, segment: string): OtlpDecodeError {
  if (e instanceof OtlpDecodeError) return e.within(segment);
  const msg = e instanceof Error ? e.message : String(e);
  // protobufjs: "index out of range: 10 + 8 > 12" means the message ends early.
  const detail = /index out of range/.test(msg) ? `truncated message (${msg})` : msg;
  return new OtlpDecodeError(detail, [segment]);
}

export interface DecodeResult<T> {
  items: T[];
  /** Items left out because they were individually invalid (partial success). */
  rejected: number;
  /** Why the first rejected item was rejected, and how many were, for partial_success.error_message. */
  rejectionMessage?: string;
}

// ---------------------------------------------------------------------------------------
// String interning: a receiver sees the same service names, span names and attribute keys
// millions of times; sharing one string per value keeps the store's memory proportional to
// distinct values. Bounded so hostile high-cardinality input cannot grow it forever.

const INTERN_MAX = 50_000;
let internTable = new Map<string, string>();

export function intern(s: string): string {
  const hit = internTable.get(s);
  if (hit !== undefined) return hit;
  if (internTable.size >= INTERN_MAX) internTable = new Map();
  internTable.set(s, s);
  return s;
}

// ---------------------------------------------------------------------------------------
// Attribute values. Readers produce plain JS values (string, number, boolean, arrays, plain
// objects for kvlists, base64 strings for bytes); the model keeps scalars as sent and
// JSON-encodes arrays and maps.

/** Arrays/kvlists inside attribute values nest at most this deep (no stack exhaustion by design). */
export const MAX_VALUE_DEPTH = 16;

export type AnyJs = string | number | boolean | AnyJs[] | { [k: string]: AnyJs } | null;

export function toAttributeValue(v: AnyJs): AttributeValue | undefined {
  if (v === null) return undefined;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return v as AttributeValue;
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------
// Resource attribution.

export interface ResourceContext {
  service: string;
  instance: string;
  host: string;
  /** Resource attributes other than service.name, service.instance.id and host.name. */
  resource: Attributes;
}

const EMPTY: Attributes = Object.freeze({}) as Attributes;

/**
 * Promote service.name / service.instance.id / host.name. For metrics, a resource with a
 * host.name but no service.name is a host-level series (service ''), as the model says.
 */
export function resourceContext(attrs: Attributes, signal: 'traces' | 'metrics'): ResourceContext {
  let service: string | undefined;
  let instanceId: string | undefined;
  let host = '';
  let resource: Attributes | undefined;
  for (const k in attrs) {
    const v = attrs[k];
    if (k === 'service.name') service = String(v);
    else if (k === 'service.instance.id') instanceId = String(v);
    else if (k === 'host.name') host = String(v);
    else (resource ??= {})[k] = v;
  }
  if (service === undefined) service = signal === 'metrics' && host !== '' ? '' : 'unknown_service';
  const instance = instanceId ?? (host !== '' ? host : service);
  return { service: intern(service), instance: intern(instance), host: intern(host), resource: resource ?? EMPTY };
}

// ---------------------------------------------------------------------------------------
// Spans.

/** What a reader extracts from one span; ids already lowercase hex (validated here). */
export interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** Set by a reader when an id could not even be read as hex (JSON), e.g. "traceId: not hex". */
  idProblem?: string;
  name: string;
  kind: number;
  /** Start in ms since epoch (float) and duration in integer ns, computed exactly by the reader. */
  startMs: number;
  durationNs: number;
  /** False when startTimeUnixNano was 0/absent. */
  hasStart: boolean;
  attributes: Attributes;
  status: number;
  statusMessage: string;
  exceptionCount: number;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

function checkId(hex: string, bytes: number, field: string, allowEmpty: boolean): string | undefined {
  if (hex.length === bytes * 2) {
    if (hex === (bytes === 16 ? ZERO_TRACE : ZERO_SPAN)) return allowEmpty ? undefined : `${field}: must not be all zeros`;
    return undefined;
  }
  if (allowEmpty && hex.length === 0) return undefined;
  return `${field}: expected ${bytes} bytes, got ${hex.length / 2}`;
}

/** Collects spans for one request; counts and describes the rejected ones. */
export class SpanBuilder {
  readonly items: Span[] = [];
  rejected = 0;
  private firstProblem?: string;
  // Position of the span being read, for messages (set by the readers' loops).
  ri = 0;
  si = 0;
  pi = 0;

  private reject(problem: string): void {
    this.rejected++;
    if (this.firstProblem === undefined) {
      this.firstProblem = `resourceSpans[${this.ri}].scopeSpans[${this.si}].spans[${this.pi}].${problem}`;
    }
  }

  add(res: ResourceContext, raw: RawSpan): void {
    const problem =
      raw.idProblem ??
      checkId(raw.traceId, 16, 'traceId', false) ??
      checkId(raw.spanId, 8, 'spanId', false) ??
      checkId(raw.parentSpanId, 8, 'parentSpanId', true) ??
      (raw.name === '' ? 'name: missing' : undefined) ??
      (!raw.hasStart ? 'startTimeUnixNano: missing' : undefined) ??
      (raw.durationNs < 0 ? 'endTimeUnixNano: before startTimeUnixNano' : undefined);
    if (problem !== undefined) {
      this.reject(problem);
      return;
    }
    const parent = raw.parentSpanId === ZERO_SPAN ? '' : raw.parentSpanId;
    // One literal shape for every span keeps V8's hidden class monomorphic in the store.
    const span: Span = {
      traceId: raw.traceId,
      spanId: raw.spanId,
      parentSpanId: parent,
      service: res.service,
      instance: res.instance,
      host: res.host,
      name: intern(raw.name),
      kind: (raw.kind >= 0 && raw.kind <= 5 ? raw.kind : 0) as SpanKind,
      startMs: raw.startMs,
      durationMs: raw.durationNs / 1e6,
      status: (raw.status >= 0 && raw.status <= 2 ? raw.status : 0) as StatusCode,
      statusMessage: raw.statusMessage,
      attributes: raw.attributes,
      resource: res.resource,
      exceptionCount: raw.exceptionCount,
    };
    this.items.push(span);
  }

  result(): DecodeResult<Span> {
    if (this.rejected === 0) return { items: this.items, rejected: 0 };
    const more = this.rejected > 1 ? ` (and ${this.rejected - 1} more span(s) rejected)` : '';
    return { items: this.items, rejected: this.rejected, rejectionMessage: `${this.firstProblem}${more}` };
  }
}

// ---------------------------------------------------------------------------------------
// Metrics.

export type OtlpMetricType = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';

export interface RawMetric {
  name: string;
  unit: string;
  type: OtlpMetricType;
  isMonotonic: boolean;
  /** AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative. */
  temporality: number;
}

/** One data point as a reader sees it; fields not used by its type stay undefined. */
export interface RawPoint {
  labels: Record<string, string>;
  timeMs: number;
  hasTime: boolean;
  /** Number points: the value; histograms/summaries: the sum (undefined when absent). */
  value: number | undefined;
  count?: number;
  bucketBounds?: number[];
  bucketCounts?: number[];
  quantiles?: Array<{ quantile: number; value: number }>;
  /** Data point flag FLAG_NO_RECORDED_VALUE: a staleness marker, skipped without rejecting. */
  noRecordedValue: boolean;
}

export function labelsFrom(attrs: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in attrs) {
    const v = attrs[k];
    out[k] = typeof v === 'string' ? v : String(v);
  }
  return out;
}

function kindOf(m: RawMetric): MetricKind {
  switch (m.type) {
    case 'gauge':
      return 'gauge';
    case 'sum':
      return m.isMonotonic ? 'counter' : 'updowncounter';
    case 'summary':
      return 'summary';
    default:
      return 'histogram';
  }
}

export class MetricBuilder {
  readonly items: MetricPoint[] = [];
  rejected = 0;
  private firstProblem?: string;
  ri = 0;
  si = 0;
  mi = 0;
  di = 0;

  reject(problem: string, count = 1, withPoint = true): void {
    this.rejected += count;
    if (this.firstProblem === undefined) {
      const at = `resourceMetrics[${this.ri}].scopeMetrics[${this.si}].metrics[${this.mi}]`;
      this.firstProblem = withPoint ? `${at}.dataPoints[${this.di}].${problem}` : `${at}.${problem}`;
    }
  }

  add(res: ResourceContext, m: RawMetric, p: RawPoint): void {
    if (p.noRecordedValue) return;
    let problem: string | undefined;
    if (!p.hasTime) problem = 'timeUnixNano: missing';
    else if (m.type === 'gauge' || m.type === 'sum') {
      if (p.value === undefined) problem = 'value: neither asDouble nor asInt is set';
    } else if (m.type === 'histogram' && p.bucketCounts && p.bucketCounts.length > 0) {
      const nb = p.bucketBounds?.length ?? 0;
      if (p.bucketCounts.length !== nb + 1) problem = `bucketCounts: expected ${nb + 1} counts for ${nb} explicitBounds, got ${p.bucketCounts.length}`;
    }
    if (problem !== undefined) {
      this.reject(problem);
      return;
    }
    const point: MetricPoint = {
      name: intern(m.name),
      unit: intern(m.unit),
      kind: kindOf(m),
      service: res.service,
      instance: res.instance,
      host: res.host,
      labels: p.labels,
      timeMs: p.timeMs,
      value: p.value ?? 0,
    };
    if (m.type !== 'gauge' && m.type !== 'sum') point.count = p.count ?? 0;
    if (m.type === 'histogram') {
      point.bucketBounds = p.bucketBounds ?? [];
      point.bucketCounts = p.bucketCounts ?? [];
    }
    if (p.quantiles) point.quantiles = p.quantiles;
    if (m.temporality === 1) point.temporality = 'delta';
    this.items.push(point);
  }

  result(): DecodeResult<MetricPoint> {
    if (this.rejected === 0) return { items: this.items, rejected: 0 };
    const more = this.rejected > 1 ? ` (${this.rejected} data point(s) rejected in all)` : '';
    return { items: this.items, rejected: this.rejected, rejectionMessage: `${this.firstProblem}${more}` };
  }
}
