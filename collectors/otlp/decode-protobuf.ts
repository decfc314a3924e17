// OTLP protobuf reader: walks ExportTraceServiceRequest / ExportMetricsServiceRequest with
// protobufjs' minimal Reader and hands raw fields to the shared builders (mapping.ts).
// Hand-written (field numbers from opentelemetry-proto v1) because it is ~3x faster than
// generated decode+toObject and writes flat rows directly (notes/dependencies.md §2).
// Unknown fields are skipped, as protobuf requires; a known field with the wrong wire type
// or a length running past its message is a malformed request.

import { Reader } from 'protobufjs/minimal';
import type { Attributes } from '../../model/telemetry';
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
import type { MetricPoint, Span } from '../../model/telemetry';

const TWO32 = 4294967296;
const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

const WIRE_NAMES = ['varint', 'i64', 'len', 'sgroup', 'egroup', 'i32'];

function wrongWire(field: string, got: number, want: number): OtlpDecodeError {
  return new OtlpDecodeError(`wire type ${WIRE_NAMES[got] ?? got}, expected ${WIRE_NAMES[want]}`, [field]);
}

/** Reads a length prefix and returns the end offset, checking it stays inside the message. */
function lenEnd(r: Reader, limit: number): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > limit) throw new OtlpDecodeError(`truncated message (length ${len} runs past the end by ${end - limit} bytes)`);
  return end;
}

function readString(r: Reader, limit: number): string {
  const end = lenEnd(r, limit);
  const s = end === r.pos ? '' : (r.buf as Buffer).toString('utf8', r.pos, end);
  r.pos = end;
  return s;
}

function readHex(r: Reader, limit: number): string {
  const end = lenEnd(r, limit);
  const s = end === r.pos ? '' : (r.buf as Buffer).toString('hex', r.pos, end);
  r.pos = end;
  return s;
}

function readBase64(r: Reader, limit: number): string {
  const end = lenEnd(r, limit);
  const s = (r.buf as Buffer).toString('base64', r.pos, end);
  r.pos = end;
  return s;
}

/** fixed64 as a JS number (exact below 2^53; ns timestamps lose < 256 ns, as any double). */
function readFixed64(r: Reader): number {
  const lo = r.fixed32();
  const hi = r.fixed32();
  return hi * TWO32 + lo;
}

function readSfixed64(r: Reader): number {
  const lo = r.fixed32();
  const hi = r.fixed32() | 0;
  return hi * TWO32 + lo;
}

function readInt64Varint(r: Reader): number {
  const v = r.int64() as unknown as number | { toNumber(): number };
  return typeof v === 'number' ? v : v.toNumber();
}

/** Skips an unknown field; `end` is the enclosing message's end, which it must not cross. */
function skip(r: Reader, wt: number, field: number, end: number): void {
  if (wt === 3 || wt === 4) throw new OtlpDecodeError(`field ${field}: groups are not supported`);
  if (wt > 5) throw new OtlpDecodeError(`field ${field}: invalid wire type ${wt}`);
  r.skipType(wt);
  if (r.pos > end) throw new OtlpDecodeError(`truncated message (field ${field} runs past the end of its message)`);
}

// ---------------------------------------------------------------------------------------
// common.v1

function readAnyValue(r: Reader, end: number, depth = 0): AnyJs {
  if (depth > MAX_VALUE_DEPTH) throw new OtlpDecodeError(`attribute value nested deeper than ${MAX_VALUE_DEPTH} levels`);
  let v: AnyJs = null;
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const wt = tag & 7;
    switch (f) {
      case 1:
        if (wt !== WT_LEN) throw wrongWire('stringValue', wt, WT_LEN);
        v = readString(r, end);
        break;
      case 2:
        if (wt !== WT_VARINT) throw wrongWire('boolValue', wt, WT_VARINT);
        v = r.bool();
        break;
      case 3:
        if (wt !== WT_VARINT) throw wrongWire('intValue', wt, WT_VARINT);
        v = readInt64Varint(r);
        break;
      case 4:
        if (wt !== WT_I64) throw wrongWire('doubleValue', wt, WT_I64);
        v = r.double();
        break;
      case 5: {
        if (wt !== WT_LEN) throw wrongWire('arrayValue', wt, WT_LEN);
        const e = lenEnd(r, end);
        const arr: AnyJs[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          if (t >>> 3 === 1 && (t & 7) === WT_LEN) {
            const ee = lenEnd(r, e);
            arr.push(readAnyValue(r, ee, depth + 1));
            r.pos = ee;
          } else skip(r, t & 7, t >>> 3, e);
        }
        v = arr;
        break;
      }
      case 6: {
        if (wt !== WT_LEN) throw wrongWire('kvlistValue', wt, WT_LEN);
        const e = lenEnd(r, end);
        const obj: { [k: string]: AnyJs } = {};
        while (r.pos < e) {
          const t = r.uint32();
          if (t >>> 3 === 1 && (t & 7) === WT_LEN) {
            const ee = lenEnd(r, e);
            readKeyValueInto(r, ee, obj, true, depth + 1);
          } else skip(r, t & 7, t >>> 3, e);
        }
        v = obj;
        break;
      }
      case 7:
        if (wt !== WT_LEN) throw wrongWire('bytesValue', wt, WT_LEN);
        v = readBase64(r, end);
        break;
      default:
        skip(r, wt, f, end);
    }
  }
  done(r, end);
  return v;
}

/** One KeyValue into `out`; `raw` keeps nested JS values (kvlists), else maps to attribute values. */
function readKeyValueInto(r: Reader, end: number, out: Record<string, unknown>, raw: boolean, depth = 0): void {
  let key = '';
  let value: AnyJs = null;
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f === 1) {
      if (wt !== WT_LEN) throw wrongWire('key', wt, WT_LEN);
      key = readString(r, end);
    } else if (f === 2) {
      if (wt !== WT_LEN) throw wrongWire('value', wt, WT_LEN);
      const e = lenEnd(r, end);
      value = readAnyValue(r, e, depth);
      r.pos = e;
    } else skip(r, wt, f, end);
  }
  done(r, end);
  if (raw) {
    out[key] = value;
  } else {
    const av = toAttributeValue(value);
    if (av !== undefined) out[intern(key)] = av;
  }
}

function readAttribute(r: Reader, end: number, out: Attributes, index: number): void {
  try {
    readKeyValueInto(r, end, out, false);
  } catch (e) {
    throw located(e, `attributes[${index}]`);
  }
  r.pos = end;
}

function readResource(r: Reader, end: number): Attributes {
  const attrs: Attributes = {};
  let i = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) {
      if ((tag & 7) !== WT_LEN) throw wrongWire('attributes', tag & 7, WT_LEN);
      readAttribute(r, lenEnd(r, end), attrs, i++);
    } else skip(r, tag & 7, tag >>> 3, end);
  }
  done(r, end);
  return attrs;
}

/** After reading a sub-message: a field that ran past its end means the length prefix lied. */
function done(r: Reader, end: number): void {
  if (r.pos !== end) throw new OtlpDecodeError('truncated message (a field runs past the end of its message)');
}

// ---------------------------------------------------------------------------------------
// Traces

const EXCEPTION = [0x65, 0x78, 0x63, 0x65, 0x70, 0x74, 0x69, 0x6f, 0x6e]; // "exception"

/** Returns 1 when the span event is named "exception", comparing bytes (no string made). */
function readEventIsException(r: Reader, end: number): number {
  let isException = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 2) {
      if ((tag & 7) !== WT_LEN) throw wrongWire('name', tag & 7, WT_LEN);
      const e = lenEnd(r, end);
      isException = 0;
      if (e - r.pos === 9) {
        const buf = r.buf;
        isException = 1;
        for (let i = 0; i < 9; i++) if (buf[r.pos + i] !== EXCEPTION[i]) isException = 0;
      }
      r.pos = e;
    } else skip(r, tag & 7, tag >>> 3, end);
  }
  done(r, end);
  return isException;
}

function readStatus(r: Reader, end: number, raw: RawSpan): void {
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    if (f === 2) {
      if ((tag & 7) !== WT_LEN) throw wrongWire('message', tag & 7, WT_LEN);
      raw.statusMessage = readString(r, end);
    } else if (f === 3) {
      if ((tag & 7) !== WT_VARINT) throw wrongWire('code', tag & 7, WT_VARINT);
      raw.status = r.int32();
    } else skip(r, tag & 7, f, end);
  }
  done(r, end);
}

const SCRATCH: RawSpan = {
  traceId: '',
  spanId: '',
  parentSpanId: '',
  name: '',
  kind: 0,
  startMs: 0,
  durationNs: 0,
  hasStart: false,
  attributes: {},
  status: 0,
  statusMessage: '',
  exceptionCount: 0,
};

function readSpan(r: Reader, end: number, res: ResourceContext, out: SpanBuilder): void {
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  let nAttr = 0;
  let nEvent = 0;
  // One scratch RawSpan reused for every span: SpanBuilder.add copies what it keeps.
  const raw = SCRATCH;
  raw.traceId = '';
  raw.spanId = '';
  raw.parentSpanId = '';
  raw.name = '';
  raw.kind = 0;
  raw.attributes = {};
  raw.status = 0;
  raw.statusMessage = '';
  raw.exceptionCount = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const wt = tag & 7;
    switch (f) {
      case 1:
        if (wt !== WT_LEN) throw wrongWire('traceId', wt, WT_LEN);
        raw.traceId = readHex(r, end);
        break;
      case 2:
        if (wt !== WT_LEN) throw wrongWire('spanId', wt, WT_LEN);
        raw.spanId = readHex(r, end);
        break;
      case 4:
        if (wt !== WT_LEN) throw wrongWire('parentSpanId', wt, WT_LEN);
        raw.parentSpanId = readHex(r, end);
        break;
      case 5:
        if (wt !== WT_LEN) throw wrongWire('name', wt, WT_LEN);
        raw.name = readString(r, end);
        break;
      case 6:
        if (wt !== WT_VARINT) throw wrongWire('kind', wt, WT_VARINT);
        raw.kind = r.int32();
        break;
      case 7:
        if (wt !== WT_I64) throw wrongWire('startTimeUnixNano', wt, WT_I64);
        startLo = r.fixed32();
        startHi = r.fixed32();
        break;
      case 8:
        if (wt !== WT_I64) throw wrongWire('endTimeUnixNano', wt, WT_I64);
        endLo = r.fixed32();
        endHi = r.fixed32();
        break;
      case 9:
        if (wt !== WT_LEN) throw wrongWire('attributes', wt, WT_LEN);
        readAttribute(r, lenEnd(r, end), raw.attributes, nAttr++);
        break;
      case 11: {
        if (wt !== WT_LEN) throw wrongWire('events', wt, WT_LEN);
        const e = lenEnd(r, end);
        try {
          raw.exceptionCount += readEventIsException(r, e);
        } catch (err) {
          throw located(err, `events[${nEvent}]`);
        }
        nEvent++;
        r.pos = e;
        break;
      }
      case 15: {
        if (wt !== WT_LEN) throw wrongWire('status', wt, WT_LEN);
        const e = lenEnd(r, end);
        try {
          readStatus(r, e, raw);
        } catch (err) {
          throw located(err, 'status');
        }
        r.pos = e;
        break;
      }
      default:
        skip(r, wt, f, end);
    }
  }
  done(r, end);
  raw.hasStart = startLo !== 0 || startHi !== 0;
  raw.startMs = (startHi * TWO32 + startLo) / 1e6;
  // Exact integer ns as long as the duration is below 2^53 ns (104 days).
  raw.durationNs = (endHi - startHi) * TWO32 + (endLo - startLo);
  out.add(res, raw);
}

/**
 * The repeated messages in field 2 of a ScopeSpans / ScopeMetrics (its spans or metrics),
 * each read in place by `readItem`, with errors located as `field[i]`.
 */
function readScopeItems(r: Reader, end: number, field: string, readItem: (r: Reader, end: number, index: number) => void): void {
  let i = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 2) {
      if ((tag & 7) !== WT_LEN) throw wrongWire(field, tag & 7, WT_LEN);
      const e = lenEnd(r, end);
      try {
        readItem(r, e, i);
      } catch (err) {
        throw located(err, `${field}[${i}]`);
      }
      r.pos = e;
      i++;
    } else skip(r, tag & 7, tag >>> 3, end);
  }
}

/**
 * A ResourceSpans / ResourceMetrics: the resource (field 1) and its scopes (field 2). The
 * resource may follow its scopes on the wire, so scope positions are remembered and the
 * scopes read after it, each by `readScope` with the resource's context.
 */
function readResourceScopes(
  r: Reader,
  end: number,
  signal: 'traces' | 'metrics',
  scopeField: string,
  readScope: (r: Reader, end: number, res: ResourceContext, index: number) => void,
): void {
  let attrs: Attributes = {};
  const scopes: number[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    if (f === 1) {
      if ((tag & 7) !== WT_LEN) throw wrongWire('resource', tag & 7, WT_LEN);
      const e = lenEnd(r, end);
      try {
        attrs = readResource(r, e);
      } catch (err) {
        throw located(err, 'resource');
      }
      r.pos = e;
    } else if (f === 2) {
      if ((tag & 7) !== WT_LEN) throw wrongWire(scopeField, tag & 7, WT_LEN);
      const e = lenEnd(r, end);
      scopes.push(r.pos, e);
      r.pos = e;
    } else skip(r, tag & 7, f, end);
  }
  const res = resourceContext(attrs, signal);
  for (let i = 0; i < scopes.length; i += 2) {
    r.pos = scopes[i];
    try {
      readScope(r, scopes[i + 1], res, i / 2);
    } catch (err) {
      throw located(err, `${scopeField}[${i / 2}]`);
    }
  }
  r.pos = end;
}

function readResourceSpans(r: Reader, end: number, out: SpanBuilder): void {
  readResourceScopes(r, end, 'traces', 'scopeSpans', (r, e, res, si) => {
    out.si = si;
    readScopeItems(r, e, 'spans', (r, e, pi) => {
      out.pi = pi;
      readSpan(r, e, res, out);
    });
  });
}

function toBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function topLevel(body: Uint8Array, each: (r: Reader, end: number, index: number) => void, fieldName: string): void {
  const r = Reader.create(toBuffer(body));
  let i = 0;
  while (r.pos < r.len) {
    let tag: number;
    try {
      tag = r.uint32();
    } catch (err) {
      throw located(err, `${fieldName}[${i}]`);
    }
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f === 1) {
      if (wt !== WT_LEN) throw wrongWire(fieldName, wt, WT_LEN);
      try {
        const e = lenEnd(r, r.len);
        each(r, e, i);
      } catch (err) {
        throw located(err, `${fieldName}[${i}]`);
      }
      i++;
    } else {
      try {
        skip(r, wt, f, r.len);
      } catch (err) {
        throw located(err, `field ${f}`);
      }
    }
  }
}

export function decodeTracesProtobuf(body: Uint8Array): DecodeResult<Span> {
  const out = new SpanBuilder();
  topLevel(
    body,
    (r, end, i) => {
      out.ri = i;
      readResourceSpans(r, end, out);
    },
    'resourceSpans',
  );
  return out.result();
}

// ---------------------------------------------------------------------------------------
// Metrics

function emptyPoint(): RawPoint {
  return { labels: {}, timeMs: 0, hasTime: false, value: undefined, noRecordedValue: false };
}

function readPackedOrSingle(r: Reader, wt: number, end: number, into: number[], elemWt: number, field: string): void {
  const readOne = elemWt === WT_I64 ? (field === 'explicitBounds' ? () => r.double() : () => readFixed64(r)) : () => r.uint32();
  if (wt === WT_LEN) {
    const e = lenEnd(r, end);
    while (r.pos < e) into.push(readOne());
    if (r.pos !== e) throw new OtlpDecodeError('truncated packed field', [field]);
  } else if (wt === elemWt) {
    into.push(readOne());
  } else throw wrongWire(field, wt, WT_LEN);
}

function readQuantile(r: Reader, end: number): { quantile: number; value: number } {
  const q = { quantile: 0, value: 0 };
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    if (f === 1 || f === 2) {
      if ((tag & 7) !== WT_I64) throw wrongWire(f === 1 ? 'quantile' : 'value', tag & 7, WT_I64);
      if (f === 1) q.quantile = r.double();
      else q.value = r.double();
    } else skip(r, tag & 7, f, end);
  }
  done(r, end);
  return q;
}

/**
 * One data point of any type. Field numbers differ by type only for attributes
 * (number/summary: 7, histogram: 9, exponential histogram: 1); the rest line up.
 */
function readPoint(r: Reader, end: number, type: RawMetric['type']): RawPoint {
  const p = emptyPoint();
  const attrs: Attributes = {};
  let nAttr = 0;
  const attrField = type === 'histogram' ? 9 : type === 'exponentialHistogram' ? 1 : 7;
  const isNumber = type === 'gauge' || type === 'sum';
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f === attrField) {
      if (wt !== WT_LEN) throw wrongWire('attributes', wt, WT_LEN);
      readAttribute(r, lenEnd(r, end), attrs, nAttr++);
    } else if (f === 3) {
      if (wt !== WT_I64) throw wrongWire('timeUnixNano', wt, WT_I64);
      const lo = r.fixed32();
      const hi = r.fixed32();
      p.hasTime = lo !== 0 || hi !== 0;
      p.timeMs = (hi * TWO32 + lo) / 1e6;
    } else if (isNumber && f === 4) {
      if (wt !== WT_I64) throw wrongWire('asDouble', wt, WT_I64);
      p.value = r.double();
    } else if (isNumber && f === 6) {
      if (wt !== WT_I64) throw wrongWire('asInt', wt, WT_I64);
      p.value = readSfixed64(r);
    } else if (isNumber && f === 8) {
      if (wt !== WT_VARINT) throw wrongWire('flags', wt, WT_VARINT);
      p.noRecordedValue = (r.uint32() & 1) === 1;
    } else if (!isNumber && f === 4) {
      if (wt !== WT_I64) throw wrongWire('count', wt, WT_I64);
      p.count = readFixed64(r);
    } else if (!isNumber && f === 5) {
      if (wt !== WT_I64) throw wrongWire('sum', wt, WT_I64);
      p.value = r.double();
    } else if (type === 'histogram' && f === 6) {
      readPackedOrSingle(r, wt, end, (p.bucketCounts ??= []), WT_I64, 'bucketCounts');
    } else if (type === 'histogram' && f === 7) {
      readPackedOrSingle(r, wt, end, (p.bucketBounds ??= []), WT_I64, 'explicitBounds');
    } else if (type === 'summary' && f === 6) {
      if (wt !== WT_LEN) throw wrongWire('quantileValues', wt, WT_LEN);
      const e = lenEnd(r, end);
      (p.quantiles ??= []).push(readQuantile(r, e));
      r.pos = e;
    } else if ((type === 'histogram' && f === 10) || (type === 'exponentialHistogram' && f === 10) || (type === 'summary' && f === 8)) {
      if (wt !== WT_VARINT) throw wrongWire('flags', wt, WT_VARINT);
      p.noRecordedValue = (r.uint32() & 1) === 1;
    } else skip(r, wt, f, end);
  }
  done(r, end);
  p.labels = labelsFrom(attrs);
  if (type === 'summary' && !p.quantiles) p.quantiles = [];
  return p;
}

const METRIC_FIELDS: Record<number, RawMetric['type']> = { 5: 'gauge', 7: 'sum', 9: 'histogram', 10: 'exponentialHistogram', 11: 'summary' };

function readMetric(r: Reader, end: number, res: ResourceContext, out: MetricBuilder): void {
  const m: RawMetric = { name: '', unit: '', type: 'gauge', isMonotonic: false, temporality: 0 };
  let dataStart = -1;
  let dataEnd = -1;
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f === 1) {
      if (wt !== WT_LEN) throw wrongWire('name', wt, WT_LEN);
      m.name = readString(r, end);
    } else if (f === 3) {
      if (wt !== WT_LEN) throw wrongWire('unit', wt, WT_LEN);
      m.unit = readString(r, end);
    } else if (METRIC_FIELDS[f] !== undefined) {
      if (wt !== WT_LEN) throw wrongWire(METRIC_FIELDS[f], wt, WT_LEN);
      m.type = METRIC_FIELDS[f];
      dataEnd = lenEnd(r, end);
      dataStart = r.pos;
      r.pos = dataEnd;
    } else skip(r, wt, f, end);
  }
  if (dataStart < 0) return; // a metric without data (allowed, nothing to keep)
  // First pass over the data message: sum's isMonotonic may follow its points.
  const points: number[] = [];
  r.pos = dataStart;
  try {
    while (r.pos < dataEnd) {
      const tag = r.uint32();
      const f = tag >>> 3;
      if (f === 1) {
        if ((tag & 7) !== WT_LEN) throw wrongWire('dataPoints', tag & 7, WT_LEN);
        const e = lenEnd(r, dataEnd);
        points.push(r.pos, e);
        r.pos = e;
      } else if (f === 3 && m.type === 'sum') {
        if ((tag & 7) !== WT_VARINT) throw wrongWire('isMonotonic', tag & 7, WT_VARINT);
        m.isMonotonic = r.bool();
      } else if (f === 2 && m.type !== 'gauge' && m.type !== 'summary') {
        if ((tag & 7) !== WT_VARINT) throw wrongWire('aggregationTemporality', tag & 7, WT_VARINT);
        m.temporality = r.int32();
      } else skip(r, tag & 7, f, dataEnd);
    }
  } catch (err) {
    throw located(err, m.type);
  }
  if (m.name === '') {
    if (points.length > 0) out.reject('name: missing', points.length / 2, false);
    return;
  }
  for (let i = 0; i < points.length; i += 2) {
    r.pos = points[i];
    out.di = i / 2;
    let p: RawPoint;
    try {
      p = readPoint(r, points[i + 1], m.type);
    } catch (err) {
      throw located(located(err, `dataPoints[${i / 2}]`), m.type);
    }
    out.add(res, m, p);
  }
  r.pos = end;
}

function readResourceMetrics(r: Reader, end: number, out: MetricBuilder): void {
  readResourceScopes(r, end, 'metrics', 'scopeMetrics', (r, e, res, si) => {
    out.si = si;
    readScopeItems(r, e, 'metrics', (r, e, mi) => {
      out.mi = mi;
      readMetric(r, e, res, out);
    });
  });
}

export function decodeMetricsProtobuf(body: Uint8Array): DecodeResult<MetricPoint> {
  const out = new MetricBuilder();
  topLevel(
    body,
    (r, end, i) => {
      out.ri = i;
      readResourceMetrics(r, end, out);
    },
    'resourceMetrics',
  );
  return out.result();
}

/** Logs are not kept; this only checks the request is well-formed protobuf and counts records. */
export function countLogRecordsProtobuf(body: Uint8Array): number {
  let n = 0;
  topLevel(
    body,
    (r, end) => {
      while (r.pos < end) {
        const tag = r.uint32();
        if (tag >>> 3 === 2 && (tag & 7) === WT_LEN) {
          const e = lenEnd(r, end);
          while (r.pos < e) {
            const t = r.uint32();
            if (t >>> 3 === 2 && (t & 7) === WT_LEN) {
              n++;
              r.pos = lenEnd(r, e);
            } else skip(r, t & 7, t >>> 3, e);
          }
        } else skip(r, tag & 7, tag >>> 3, end);
      }
    },
    'resourceLogs',
  );
  return n;
}
