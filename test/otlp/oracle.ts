// Test helpers: random-ish OTLP requests encoded by the generated protobufjs static root of
// @opentelemetry/otlp-transformer@0.214.0 (devDependency alias `otlp-gen-root`), and an
// independent reference mapping from the oracle's own decode to the model, so our decoder
// is checked against code it shares nothing with.

/* eslint-disable @typescript-eslint/no-explicit-any */
import type { Attributes, MetricPoint, Span } from '../../model/telemetry';

// The generated root is typed only as a protobufjs Root; we use it dynamically.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const root: any = require('otlp-gen-root/build/src/generated/root');

export const TraceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
export const MetricsRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
export const TraceResponse = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
export const MetricsResponse = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;

export function encodeTraces(obj: object): Buffer {
  return Buffer.from(TraceRequest.encode(TraceRequest.fromObject(obj)).finish());
}
export function encodeMetrics(obj: object): Buffer {
  return Buffer.from(MetricsRequest.encode(MetricsRequest.fromObject(obj)).finish());
}

/** A small deterministic PRNG so a failing case can be replayed from its seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const word = () => pick(['GET /rank', 'recall', 'feature-fetch', 'db.query', 'ünïcödé ✓', 'a', 'x'.repeat(int(1, 40))]);
  return { next, int, pick, bytes, word };
}
type Rng = ReturnType<typeof rng>;

function anyValue(r: Rng, depth = 0): any {
  switch (r.int(0, depth > 1 ? 3 : 6)) {
    case 0:
      return { stringValue: r.word() };
    case 1:
      return { boolValue: r.next() < 0.5 };
    case 2:
      return { intValue: String(r.int(-1e9, 1e9)) };
    case 3:
      return { doubleValue: r.int(-1e6, 1e6) / 7 };
    case 4:
      return { arrayValue: { values: Array.from({ length: r.int(0, 3) }, () => anyValue(r, depth + 1)) } };
    case 5:
      return { kvlistValue: { values: Array.from({ length: r.int(0, 3) }, (_, i) => ({ key: `k${i}`, value: anyValue(r, depth + 1) })) } };
    default:
      return { bytesValue: r.bytes(r.int(1, 6)) };
  }
}

function attrs(r: Rng, n: number): any[] {
  return Array.from({ length: n }, (_, i) => ({ key: `attr.${i}.${r.int(0, 3)}`, value: anyValue(r) }));
}

function resource(r: Rng): any {
  const a = attrs(r, r.int(0, 3));
  if (r.next() < 0.85) a.push({ key: 'service.name', value: { stringValue: r.pick(['ranker', 'recall', 'gateway']) } });
  if (r.next() < 0.5) a.push({ key: 'service.instance.id', value: { stringValue: `inst-${r.int(1, 3)}` } });
  if (r.next() < 0.5) a.push({ key: 'host.name', value: { stringValue: `host-${r.int(1, 3)}` } });
  return { attributes: a };
}

const BASE_NS = 1_763_900_000_000_000_000n;

/** A random ExportTraceServiceRequest in protobufjs object form; some spans invalid on purpose. */
export function randomTraceRequest(seed: number, opts: { invalid?: boolean } = {}): any {
  const r = rng(seed);
  const invalid = opts.invalid ?? true;
  return {
    resourceSpans: Array.from({ length: r.int(1, 3) }, () => ({
      resource: resource(r),
      scopeSpans: Array.from({ length: r.int(1, 3) }, () => ({
        scope: { name: 'scope', version: '1.0' },
        spans: Array.from({ length: r.int(0, 5) }, () => {
          const start = BASE_NS + BigInt(r.int(0, 2 ** 31)) * 1000n + BigInt(r.int(0, 999));
          const dur = BigInt(r.int(0, 2 ** 30)) * BigInt(r.int(1, 1000)) + BigInt(r.int(0, 999));
          const bad = invalid && r.next() < 0.1 ? r.int(0, 3) : -1;
          const span: any = {
            traceId: bad === 0 ? r.bytes(5) : r.bytes(16),
            spanId: bad === 1 ? Buffer.alloc(8) : r.bytes(8),
            parentSpanId: r.next() < 0.3 ? Buffer.alloc(0) : r.bytes(8),
            name: bad === 2 ? '' : r.word(),
            kind: r.int(0, 5),
            startTimeUnixNano: start.toString(),
            endTimeUnixNano: (bad === 3 ? start - 5n : start + dur).toString(),
            attributes: attrs(r, r.int(0, 4)),
            events: Array.from({ length: r.int(0, 3) }, () => ({ name: r.pick(['exception', 'log', 'exceptions']), timeUnixNano: start.toString() })),
            links: r.next() < 0.2 ? [{ traceId: r.bytes(16), spanId: r.bytes(8) }] : [],
            flags: 257,
            traceState: r.next() < 0.2 ? 'k=v' : '',
          };
          if (r.next() < 0.7) span.status = { code: r.int(0, 2), message: r.next() < 0.5 ? 'boom' : '' };
          return span;
        }),
      })),
    })),
  };
}

// ---------------------------------------------------------------------------------------
// Reference mapping from the oracle's decoded object to the model.

const TO_OBJECT = { longs: String, bytes: String, enums: Number, defaults: false, arrays: true };

function refAny(v: any): any {
  if (v == null) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(refAny);
  if ('kvlistValue' in v) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv: any) => [kv.key, refAny(kv.value)]));
  if ('bytesValue' in v) return v.bytesValue; // base64 already (bytes: String)
  return null;
}

function refAttrs(list: any[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) {
    const v = refAny(kv.value);
    if (v === null) continue;
    out[kv.key] = typeof v === 'object' ? JSON.stringify(v) : v;
  }
  return out;
}

function refResource(list: any[] | undefined, signal: 'traces' | 'metrics') {
  const all = refAttrs(list);
  const { ['service.name']: sn, ['service.instance.id']: sid, ['host.name']: hn, ...rest } = all;
  const host = hn === undefined ? '' : String(hn);
  const service = sn !== undefined ? String(sn) : signal === 'metrics' && host !== '' ? '' : 'unknown_service';
  return { service, instance: sid !== undefined ? String(sid) : host !== '' ? host : service, host, resource: rest };
}

const hex = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('hex');

export function referenceSpans(bytes: Uint8Array): { spans: Span[]; rejected: number } {
  const req = TraceRequest.toObject(TraceRequest.decode(bytes), TO_OBJECT);
  const spans: Span[] = [];
  let rejected = 0;
  for (const rs of req.resourceSpans ?? []) {
    const res = refResource(rs.resource?.attributes, 'traces');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const traceId = hex(s.traceId);
        const spanId = hex(s.spanId);
        const parent = hex(s.parentSpanId);
        const start = BigInt(s.startTimeUnixNano ?? '0');
        const end = BigInt(s.endTimeUnixNano ?? '0');
        const ok =
          traceId.length === 32 && !/^0+$/.test(traceId) && spanId.length === 16 && !/^0+$/.test(spanId) && (parent.length === 0 || parent.length === 16) && (s.name ?? '') !== '' && start > 0n && end >= start;
        if (!ok) {
          rejected++;
          continue;
        }
        spans.push({
          traceId,
          spanId,
          parentSpanId: /^0*$/.test(parent) ? '' : parent,
          service: res.service,
          instance: res.instance,
          host: res.host,
          name: s.name,
          kind: (s.kind ?? 0) as Span['kind'],
          startMs: Number(start) / 1e6,
          durationMs: Number(end - start) / 1e6,
          status: (s.status?.code ?? 0) as Span['status'],
          statusMessage: s.status?.message ?? '',
          attributes: refAttrs(s.attributes),
          resource: res.resource,
          exceptionCount: (s.events ?? []).filter((e: any) => e.name === 'exception').length,
        });
      }
    }
  }
  return { spans, rejected };
}

/** The same request in OTLP/JSON as the spec writes it: hex ids, int64 as strings, enums as ints. */
export function toOtlpJson(obj: any): any {
  const conv = (v: any, key?: string): any => {
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
      return key === 'traceId' || key === 'spanId' || key === 'parentSpanId' ? Buffer.from(v).toString('hex') : Buffer.from(v).toString('base64');
    }
    if (Array.isArray(v)) return v.map((x) => conv(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x, k)]));
    return v;
  };
  return conv(obj);
}

// ---------------------------------------------------------------------------------------
// Metrics

function numberPoint(r: Rng, invalid: boolean): any {
  const p: any = { attributes: attrs(r, r.int(0, 2)), startTimeUnixNano: String(BASE_NS), timeUnixNano: String(BASE_NS + BigInt(r.int(1, 2 ** 31)) * 1000n) };
  const which = invalid && r.next() < 0.1 ? 2 : r.int(0, 1);
  if (which === 0) p.asDouble = r.int(-1e6, 1e6) / 3;
  else if (which === 1) p.asInt = String(r.int(-1e9, 1e9));
  return p;
}

export function randomMetricsRequest(seed: number, opts: { invalid?: boolean } = {}): any {
  const r = rng(seed);
  const invalid = opts.invalid ?? true;
  const metric = (): any => {
    const name = invalid && r.next() < 0.05 ? '' : r.pick(['http.server.duration', 'queue.depth', 'requests', 'cpu']);
    const unit = r.pick(['ms', '1', 'By', '']);
    const n = r.int(0, 3);
    switch (r.int(0, 4)) {
      case 0:
        return { name, unit, gauge: { dataPoints: Array.from({ length: n }, () => numberPoint(r, invalid)) } };
      case 1:
        return { name, unit, sum: { dataPoints: Array.from({ length: n }, () => numberPoint(r, invalid)), aggregationTemporality: r.int(1, 2), isMonotonic: r.next() < 0.5 } };
      case 2:
        return {
          name,
          unit,
          histogram: {
            aggregationTemporality: r.int(1, 2),
            dataPoints: Array.from({ length: n }, () => {
              const bounds = Array.from({ length: r.int(0, 4) }, (_, i) => (i + 1) * 2.5);
              const counts = Array.from({ length: bounds.length + (invalid && r.next() < 0.1 ? 2 : 1) }, () => String(r.int(0, 100)));
              return { attributes: attrs(r, 1), timeUnixNano: String(BASE_NS + 5n), count: String(r.int(0, 1000)), sum: r.int(0, 1e5) / 4, bucketCounts: counts, explicitBounds: bounds };
            }),
          },
        };
      case 3:
        return {
          name,
          unit,
          exponentialHistogram: {
            aggregationTemporality: r.int(1, 2),
            dataPoints: Array.from({ length: n }, () => ({ attributes: attrs(r, 1), timeUnixNano: String(BASE_NS + 7n), count: String(r.int(0, 1000)), sum: r.int(0, 1e5) / 4, scale: 3, zeroCount: '1', positive: { offset: 2, bucketCounts: ['1', '2'] } })),
          },
        };
      default:
        return {
          name,
          unit,
          summary: {
            dataPoints: Array.from({ length: n }, () => ({
              attributes: attrs(r, 1),
              timeUnixNano: String(BASE_NS + 9n),
              count: String(r.int(0, 1000)),
              sum: r.int(0, 1e5) / 4,
              quantileValues: [
                { quantile: 0.5, value: r.int(0, 100) },
                { quantile: 0.99, value: r.int(100, 1000) },
              ],
            })),
          },
        };
    }
  };
  return {
    resourceMetrics: Array.from({ length: r.int(1, 3) }, () => ({
      resource: resource(r),
      scopeMetrics: Array.from({ length: r.int(1, 2) }, () => ({ scope: { name: 'meter' }, metrics: Array.from({ length: r.int(0, 4) }, metric) })),
    })),
  };
}

function refLabels(list: any[] | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(refAttrs(list)).map(([k, v]) => [k, String(v)]));
}

const delta = (data: any): { temporality?: 'delta' } => (data.aggregationTemporality === 1 ? { temporality: 'delta' } : {});

export function referenceMetrics(bytes: Uint8Array): { points: MetricPoint[]; rejected: number } {
  const req = MetricsRequest.toObject(MetricsRequest.decode(bytes), TO_OBJECT);
  const points: MetricPoint[] = [];
  let rejected = 0;
  for (const rm of req.resourceMetrics ?? []) {
    const res = refResource(rm.resource?.attributes, 'metrics');
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const type = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'].find((t) => m[t]);
        if (!type) continue;
        const dps: any[] = m[type].dataPoints ?? [];
        if (!m.name) {
          rejected += dps.length;
          continue;
        }
        for (const dp of dps) {
          const base = { name: m.name, unit: m.unit ?? '', service: res.service, instance: res.instance, host: res.host, labels: refLabels(dp.attributes), timeMs: Number(BigInt(dp.timeUnixNano)) / 1e6 };
          if (type === 'gauge' || type === 'sum') {
            const value = dp.asDouble ?? (dp.asInt !== undefined ? Number(dp.asInt) : undefined);
            if (value === undefined) {
              rejected++;
              continue;
            }
            points.push({ ...base, kind: type === 'gauge' ? 'gauge' : m.sum.isMonotonic ? 'counter' : 'updowncounter', value, ...delta(m[type]) });
          } else if (type === 'histogram') {
            const counts = (dp.bucketCounts ?? []).map(Number);
            const bounds = dp.explicitBounds ?? [];
            if (counts.length > 0 && counts.length !== bounds.length + 1) {
              rejected++;
              continue;
            }
            points.push({ ...base, kind: 'histogram', value: dp.sum ?? 0, count: Number(dp.count ?? 0), bucketBounds: bounds, bucketCounts: counts, ...delta(m[type]) });
          } else if (type === 'exponentialHistogram') {
            points.push({ ...base, kind: 'histogram', value: dp.sum ?? 0, count: Number(dp.count ?? 0), ...delta(m[type]) });
          } else {
            points.push({ ...base, kind: 'summary', value: dp.sum ?? 0, count: Number(dp.count ?? 0), quantiles: (dp.quantileValues ?? []).map((q: any) => ({ quantile: q.quantile ?? 0, value: q.value ?? 0 })) });
          }
        }
      }
    }
  }
  return { points, rejected };
}
