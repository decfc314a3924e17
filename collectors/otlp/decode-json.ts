// OTLP/JSON reader (the protobuf JSON mapping with OTLP's deviations: trace/span ids are
// hex, not base64; enums are integers). int64 fields may be strings or numbers, enums may
// also be names, and snake_case field names are accepted besides lowerCamelCase (proto3
// JSON parsers accept both). A field of the wrong JSON type fails the whole request (400),
// as the protobuf JSON parsers of the Collector do; an invalid id only rejects its span.

import type { Attributes, MetricPoint, Span } from '../../model/telemetry';
import {
  type AnyJs,
  type DecodeResult,
  type RawMetric,
  type RawPoint,
  type RawSpan,
  type ResourceContext,
  MAX_VALUE_DEPTH,
  MetricBuilder,
  OtlpDecodeError,
  SpanBuilder,
  intern,
  labelsFrom,
  located,
  resourceContext,
  toAttributeValue,
} from './mapping';

type Obj = Record<string, unknown>;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function fail(field: string, want: string, got: unknown): never {
  throw new OtlpDecodeError(`expected ${want}, got ${typeName(got)}`, [field]);
}

/** A field by its lowerCamelCase name, else its snake_case one. */
function get(o: Obj, camel: string, snake?: string): unknown {
  const v = o[camel];
  return v !== undefined || snake === undefined ? v : o[snake];
}

function asObject(v: unknown, field: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'an object', v);
  return v as Obj;
}

/** An array element; the caller's located() names it. */
function asElement(v: unknown): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new OtlpDecodeError(`expected an object, got ${typeName(v)}`);
  return v as Obj;
}

function optArray(o: Obj, camel: string, snake?: string): unknown[] {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(camel, 'an array', v);
  return v;
}

function optString(o: Obj, camel: string, snake?: string): string {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(camel, 'a string', v);
  return v;
}

function optBool(o: Obj, camel: string, snake?: string): boolean {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') fail(camel, 'a boolean', v);
  return v;
}

const INT_RE = /^-?\d+$/;

/** int64/uint64/fixed64: a JSON number or a decimal string. */
function int64(v: unknown, field: string): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(field, 'an integer', v);
    return v;
  }
  if (typeof v === 'string' && INT_RE.test(v)) return Number(v);
  return fail(field, 'an integer (number or decimal string)', v);
}

function optInt64(o: Obj, camel: string, snake?: string): number | undefined {
  const v = get(o, camel, snake);
  return v === undefined || v === null ? undefined : int64(v, camel);
}

/** double: a number or "NaN"/"Infinity"/"-Infinity" (proto3 JSON) or a numeric string. */
function double(v: unknown, field: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  return fail(field, 'a number', v);
}

function enumValue(v: unknown, field: string, names: Record<string, number>): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && names[v] !== undefined) return names[v];
  return fail(field, 'an enum integer', v);
}

const SPAN_KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const TEMPORALITY_NAMES: Record<string, number> = { AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2 };
const STATUS_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/**
 * A ns timestamp split into whole ms and the ns remainder, so that differences of two
 * timestamps are exact integers of ns even though the full value exceeds 2^53.
 */
interface SplitNs {
  ms: number;
  ns: number;
}

function splitNs(v: unknown, field: string): SplitNs {
  if (v === undefined || v === null) return { ms: 0, ns: 0 };
  if (typeof v === 'string' && INT_RE.test(v) && v[0] !== '-') {
    if (v.length <= 6) return { ms: 0, ns: Number(v) };
    return { ms: Number(v.slice(0, -6)), ns: Number(v.slice(-6)) };
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) {
    const ms = Math.floor(v / 1e6);
    return { ms, ns: v - ms * 1e6 };
  }
  return fail(field, 'an unsigned integer (number or decimal string)', v);
}

/** A hex id as lowercase; not-hex is reported as a per-item problem, not a request failure. */
const HEX_RE = /^[0-9a-fA-F]*$/;

function hexId(o: Obj, camel: string, snake: string, raw: RawSpan): string {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(camel, 'a hex string', v);
  if (!HEX_RE.test(v) || v.length % 2 !== 0) {
    raw.idProblem ??= `${camel}: ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)} is not an even-length hex string`;
    return '';
  }
  return v.toLowerCase();
}

// ---------------------------------------------------------------------------------------
// common.v1

function anyValue(v: unknown, field: string, depth = 0): AnyJs {
  if (depth > MAX_VALUE_DEPTH) throw new OtlpDecodeError(`attribute value nested deeper than ${MAX_VALUE_DEPTH} levels`, [field]);
  const o = asObject(v, field);
  let x: unknown;
  if ((x = get(o, 'stringValue', 'string_value')) !== undefined) {
    if (typeof x !== 'string') fail(`${field}.stringValue`, 'a string', x);
    return x;
  }
  if ((x = get(o, 'boolValue', 'bool_value')) !== undefined) {
    if (typeof x !== 'boolean') fail(`${field}.boolValue`, 'a boolean', x);
    return x;
  }
  if ((x = get(o, 'intValue', 'int_value')) !== undefined) return int64(x, `${field}.intValue`);
  if ((x = get(o, 'doubleValue', 'double_value')) !== undefined) return double(x, `${field}.doubleValue`);
  if ((x = get(o, 'arrayValue', 'array_value')) !== undefined) {
    const values = optArray(asObject(x, `${field}.arrayValue`), 'values');
    return values.map((e, i) => anyValue(e, `${field}.arrayValue.values[${i}]`, depth + 1));
  }
  if ((x = get(o, 'kvlistValue', 'kvlist_value')) !== undefined) {
    const values = optArray(asObject(x, `${field}.kvlistValue`), 'values');
    const out: { [k: string]: AnyJs } = {};
    values.forEach((kv, i) => {
      const kvo = asObject(kv, `${field}.kvlistValue.values[${i}]`);
      const key = optString(kvo, 'key');
      const val = kvo.value;
      out[key] = val === undefined || val === null ? null : anyValue(val, `${field}.kvlistValue.values[${i}].value`, depth + 1);
    });
    return out;
  }
  if ((x = get(o, 'bytesValue', 'bytes_value')) !== undefined) {
    if (typeof x !== 'string') fail(`${field}.bytesValue`, 'a base64 string', x);
    return x;
  }
  return null;
}

function attributes(list: unknown[], field: string): Attributes {
  const out: Attributes = {};
  for (let i = 0; i < list.length; i++) {
    const kv = asObject(list[i], `${field}[${i}]`);
    const key = kv.key;
    if (typeof key !== 'string') fail(`${field}[${i}].key`, 'a string', key);
    const val = kv.value;
    if (val === undefined || val === null) continue;
    const av = toAttributeValue(anyValue(val, `${field}[${i}].value`));
    if (av !== undefined) out[intern(key)] = av;
  }
  return out;
}

function resourceAttributes(rs: Obj): Attributes {
  const res = get(rs, 'resource');
  if (res === undefined || res === null) return {};
  return attributes(optArray(asObject(res, 'resource'), 'attributes'), 'resource.attributes');
}

function parse(body: Uint8Array | string): Obj {
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.trim() === '') throw new OtlpDecodeError('empty body');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new OtlpDecodeError(`invalid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new OtlpDecodeError(`expected a JSON object, got ${typeName(v)}`);
  return v as Obj;
}

// ---------------------------------------------------------------------------------------
// Traces

function span(so: Obj, res: ResourceContext, out: SpanBuilder): void {
  const raw: RawSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: optString(so, 'name'),
    kind: enumValue(so.kind, 'kind', SPAN_KIND_NAMES),
    startMs: 0,
    durationNs: 0,
    hasStart: false,
    attributes: attributes(optArray(so, 'attributes'), 'attributes'),
    status: 0,
    statusMessage: '',
    exceptionCount: 0,
  };
  raw.traceId = hexId(so, 'traceId', 'trace_id', raw);
  raw.spanId = hexId(so, 'spanId', 'span_id', raw);
  raw.parentSpanId = hexId(so, 'parentSpanId', 'parent_span_id', raw);
  const start = splitNs(get(so, 'startTimeUnixNano', 'start_time_unix_nano'), 'startTimeUnixNano');
  const end = splitNs(get(so, 'endTimeUnixNano', 'end_time_unix_nano'), 'endTimeUnixNano');
  raw.hasStart = start.ms !== 0 || start.ns !== 0;
  raw.startMs = start.ms + start.ns / 1e6;
  raw.durationNs = (end.ms - start.ms) * 1e6 + (end.ns - start.ns);
  const events = optArray(so, 'events');
  for (let i = 0; i < events.length; i++) {
    const ev = asObject(events[i], `events[${i}]`);
    if (ev.name === 'exception') raw.exceptionCount++;
  }
  const st = so.status;
  if (st !== undefined && st !== null) {
    const sto = asObject(st, 'status');
    raw.status = enumValue(sto.code, 'status.code', STATUS_NAMES);
    raw.statusMessage = optString(sto, 'message');
  }
  out.add(res, raw);
}

export function decodeTracesJson(body: Uint8Array | string): DecodeResult<Span> {
  const root = parse(body);
  const out = new SpanBuilder();
  const rss = optArray(root, 'resourceSpans', 'resource_spans');
  for (let ri = 0; ri < rss.length; ri++) {
    out.ri = ri;
    try {
      const rs = asElement(rss[ri]);
      const res = resourceContext(resourceAttributes(rs), 'traces');
      const sss = optArray(rs, 'scopeSpans', 'scope_spans');
      for (let si = 0; si < sss.length; si++) {
        out.si = si;
        try {
          const spans = optArray(asElement(sss[si]), 'spans');
          for (let pi = 0; pi < spans.length; pi++) {
            out.pi = pi;
            try {
              span(asElement(spans[pi]), res, out);
            } catch (e) {
              throw located(e, `spans[${pi}]`);
            }
          }
        } catch (e) {
          throw located(e, `scopeSpans[${si}]`);
        }
      }
    } catch (e) {
      throw located(e, `resourceSpans[${ri}]`);
    }
  }
  return out.result();
}

// ---------------------------------------------------------------------------------------
// Metrics

const METRIC_TYPES: Array<[RawMetric['type'], string]> = [
  ['gauge', 'gauge'],
  ['sum', 'sum'],
  ['histogram', 'histogram'],
  ['exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary'],
];

function point(po: Obj, type: RawMetric['type']): RawPoint {
  const time = splitNs(get(po, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano');
  const flags = get(po, 'flags');
  const p: RawPoint = {
    labels: labelsFrom(attributes(optArray(po, 'attributes'), 'attributes')),
    timeMs: time.ms + time.ns / 1e6,
    hasTime: time.ms !== 0 || time.ns !== 0,
    value: undefined,
    noRecordedValue: flags !== undefined && flags !== null && (int64(flags, 'flags') & 1) === 1,
  };
  if (type === 'gauge' || type === 'sum') {
    const d = get(po, 'asDouble', 'as_double');
    const i = get(po, 'asInt', 'as_int');
    if (d !== undefined && d !== null) p.value = double(d, 'asDouble');
    else if (i !== undefined && i !== null) p.value = int64(i, 'asInt');
    return p;
  }
  const sum = get(po, 'sum');
  if (sum !== undefined && sum !== null) p.value = double(sum, 'sum');
  p.count = optInt64(po, 'count') ?? 0;
  if (type === 'histogram') {
    p.bucketCounts = optArray(po, 'bucketCounts', 'bucket_counts').map((c, i) => int64(c, `bucketCounts[${i}]`));
    p.bucketBounds = optArray(po, 'explicitBounds', 'explicit_bounds').map((b, i) => double(b, `explicitBounds[${i}]`));
  } else if (type === 'summary') {
    p.quantiles = optArray(po, 'quantileValues', 'quantile_values').map((q, i) => {
      const qo = asObject(q, `quantileValues[${i}]`);
      return { quantile: qo.quantile == null ? 0 : double(qo.quantile, `quantileValues[${i}].quantile`), value: qo.value == null ? 0 : double(qo.value, `quantileValues[${i}].value`) };
    });
  }
  return p;
}

function metric(mo: Obj, res: ResourceContext, out: MetricBuilder): void {
  const m: RawMetric = { name: optString(mo, 'name'), unit: optString(mo, 'unit'), type: 'gauge', isMonotonic: false, temporality: 0 };
  let data: Obj | undefined;
  for (const [type, snake] of METRIC_TYPES) {
    const d = get(mo, type, snake);
    if (d !== undefined && d !== null) {
      data = asObject(d, type);
      m.type = type;
      break;
    }
  }
  if (!data) return;
  const dps = optArray(data, 'dataPoints', 'data_points');
  if (m.type === 'sum') m.isMonotonic = optBool(data, 'isMonotonic', 'is_monotonic');
  if (m.type !== 'gauge' && m.type !== 'summary') m.temporality = enumValue(get(data, 'aggregationTemporality', 'aggregation_temporality'), 'aggregationTemporality', TEMPORALITY_NAMES);
  if (m.name === '') {
    if (dps.length > 0) out.reject('name: missing', dps.length, false);
    return;
  }
  for (let di = 0; di < dps.length; di++) {
    out.di = di;
    let p: RawPoint;
    try {
      p = point(asElement(dps[di]), m.type);
    } catch (e) {
      throw located(located(e, `dataPoints[${di}]`), m.type);
    }
    out.add(res, m, p);
  }
}

export function decodeMetricsJson(body: Uint8Array | string): DecodeResult<MetricPoint> {
  const root = parse(body);
  const out = new MetricBuilder();
  const rms = optArray(root, 'resourceMetrics', 'resource_metrics');
  for (let ri = 0; ri < rms.length; ri++) {
    out.ri = ri;
    try {
      const rm = asElement(rms[ri]);
      const res = resourceContext(resourceAttributes(rm), 'metrics');
      const sms = optArray(rm, 'scopeMetrics', 'scope_metrics');
      for (let si = 0; si < sms.length; si++) {
        out.si = si;
        try {
          const ms = optArray(asElement(sms[si]), 'metrics');
          for (let mi = 0; mi < ms.length; mi++) {
            out.mi = mi;
            try {
              metric(asElement(ms[mi]), res, out);
            } catch (e) {
              throw located(e, `metrics[${mi}]`);
            }
          }
        } catch (e) {
          throw located(e, `scopeMetrics[${si}]`);
        }
      }
    } catch (e) {
      throw located(e, `resourceMetrics[${ri}]`);
    }
  }
  return out.result();
}

/** Logs are not kept: check the request is an OTLP/JSON object and count its records. */
export function countLogRecordsJson(body: Uint8Array | string): number {
  const root = parse(body);
  let n = 0;
  const rls = optArray(root, 'resourceLogs', 'resource_logs');
  rls.forEach((rl, ri) => {
    const sls = optArray(asObject(rl, `resourceLogs[${ri}]`), 'scopeLogs', 'scope_logs');
    sls.forEach((sl, si) => {
      n += optArray(asObject(sl, `resourceLogs[${ri}].scopeLogs[${si}]`), 'logRecords', 'log_records').length;
    });
  });
  return n;
}
