// Malformed OTLP bodies for the fuzz tests: mutations of valid requests made with the real
// generated encoder (otlp-gen-root, via test/otlp/oracle), plus hand-built hostile shapes
// (deep nesting, huge length prefixes, absurd counts, gzip bombs). Everything is derived
// from a seed, so a failing case can be replayed from the seed fast-check prints.

import * as zlib from 'node:zlib';
import { Writer } from 'protobufjs/minimal';
import { encodeMetrics, encodeTraces, randomMetricsRequest, randomTraceRequest, rng, toOtlpJson } from '../otlp/oracle';

export type Rng = ReturnType<typeof rng>;
export type Signal = 'traces' | 'metrics';

// Mutations start from a pool of valid requests (encoding one costs more than decoding it).
const POOL = 48;
const pools = new Map<string, Array<Buffer | string>>();

function pooled<T extends Buffer | string>(key: string, seed: number, make: (s: number) => T): T {
  let pool = pools.get(key);
  if (!pool) pools.set(key, (pool = []));
  const i = Math.abs(seed) % POOL;
  return (pool[i] ??= make(i + 1)) as T;
}

/** A valid request of the signal, protobuf-encoded by the generated root (one of a pool, by seed). */
export function validProtobuf(signal: Signal, seed: number): Buffer {
  return pooled(`pb-${signal}`, seed, (s) =>
    signal === 'traces' ? encodeTraces(randomTraceRequest(s, { invalid: false })) : encodeMetrics(randomMetricsRequest(s, { invalid: false })),
  );
}

/** The same kind of request in OTLP/JSON. */
export function validJson(signal: Signal, seed: number): string {
  return pooled(`json-${signal}`, seed, (s) =>
    JSON.stringify(toOtlpJson(signal === 'traces' ? randomTraceRequest(s, { invalid: false }) : randomMetricsRequest(s, { invalid: false }))),
  );
}

function varint(n: number): Buffer {
  const w = Writer.create();
  w.uint32(n);
  return Buffer.from(w.finish());
}

/** A length-delimited field: tag (field << 3 | 2), length, payload. */
function lenField(field: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);
}

// ---- protobuf mutations -------------------------------------------------------------

export const PROTOBUF_MUTATIONS = [
  'bitflip',
  'truncate',
  'wrongWireType',
  'hugeLength',
  'splice',
  'duplicate',
  'randomBytes',
  'deepNesting',
  'manyEmpty',
  'hugeString',
  'negativeLength',
  'unknownFields',
] as const;
export type ProtobufMutation = (typeof PROTOBUF_MUTATIONS)[number];

/** One malformed (or hostile but possibly valid) protobuf body. */
export function mutateProtobuf(signal: Signal, kind: ProtobufMutation, seed: number): Buffer {
  const r = rng(seed);
  const base = validProtobuf(signal, seed);
  switch (kind) {
    case 'bitflip': {
      const out = Buffer.from(base);
      const flips = r.int(1, 8);
      for (let i = 0; i < flips && out.length > 0; i++) out[r.int(0, out.length - 1)] ^= 1 << r.int(0, 7);
      return out;
    }
    case 'truncate':
      return base.subarray(0, r.int(0, Math.max(0, base.length - 1)));
    case 'wrongWireType': {
      // Rewrite the wire type of the first tag, or of a random byte that may be a tag.
      const out = Buffer.from(base);
      const at = r.next() < 0.5 || out.length === 0 ? 0 : r.int(0, out.length - 1);
      if (out.length > 0) out[at] = (out[at] & ~7) | r.pick([0, 1, 3, 4, 5, 6, 7]);
      return out;
    }
    case 'hugeLength': {
      // A length prefix far beyond the body (up to 2^32-1, and 2^63 as a 10-byte varint).
      const huge = r.pick([
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        varint(0x7fffffff),
        varint(base.length + r.int(1, 1000)),
      ]);
      const at = r.int(0, base.length);
      return Buffer.concat([base.subarray(0, at), Buffer.from([0x0a]), huge, base.subarray(at)]);
    }
    case 'splice': {
      const a = r.int(0, base.length);
      const b = r.int(0, base.length);
      return Buffer.concat([base.subarray(0, Math.min(a, b)), r.bytes(r.int(1, 32)), base.subarray(Math.max(a, b))]);
    }
    case 'duplicate':
      return Buffer.concat([base, base.subarray(r.int(0, base.length))]);
    case 'randomBytes':
      return r.bytes(r.int(1, 512));
    case 'deepNesting':
      return deepNestedProtobuf(signal, r.int(1000, 20000));
    case 'manyEmpty':
      // A few hundred thousand empty sub-messages in a small body.
      return lenField(1, lenField(2, Buffer.alloc(r.int(10_000, 60_000) * 2, Buffer.from([0x12, 0x00]))));
    case 'hugeString': {
      // A valid request whose span name / metric name is megabytes long.
      const name = 'n'.repeat(r.int(1, 4) * 1024 * 1024);
      return signal === 'traces'
        ? encodeTraces({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: r.bytes(16), spanId: r.bytes(8), name, startTimeUnixNano: '1763900000000000000', endTimeUnixNano: '1763900000001000000' }] }] }] })
        : encodeMetrics({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: '1763900000000000000' }] } }] }] }] });
    }
    case 'negativeLength':
      // A 10-byte varint length with the sign bit set (int64 -1).
      return Buffer.concat([Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), base]);
    case 'unknownFields': {
      // Fields from a future schema of every wire type, at the top level: must be skipped.
      const w = Writer.create();
      w.uint32((99 << 3) | 0).uint64(123456789);
      w.uint32((100 << 3) | 1).fixed64(7);
      w.uint32((101 << 3) | 5).fixed32(9);
      w.uint32((102 << 3) | 2).bytes(r.bytes(r.int(0, 40)));
      return Buffer.concat([Buffer.from(w.finish()), base]);
    }
  }
}

/**
 * AnyValue nested `depth` deep (array_value -> values -> array_value ...) as a span or
 * resource attribute: a recursive decoder without a depth limit overflows the stack here.
 */
export function deepNestedProtobuf(signal: Signal, depth: number): Buffer {
  // Built outside-in from precomputed lengths: concatenating level by level is quadratic.
  const inner = lenField(1, Buffer.from('x')); // AnyValue.string_value = 1
  const prefixes: Buffer[] = [];
  let len = inner.length;
  for (let i = 0; i < depth; i++) {
    const values = Buffer.concat([Buffer.from([0x0a]), varint(len)]); // ArrayValue.values = 1
    len += values.length;
    const arrayValue = Buffer.concat([Buffer.from([0x2a]), varint(len)]); // AnyValue.array_value = 5
    len += arrayValue.length;
    prefixes.push(values, arrayValue);
  }
  const any = Buffer.concat([...prefixes.reverse(), inner]);
  const kv = Buffer.concat([lenField(1, Buffer.from('deep')), lenField(2, any)]); // KeyValue{key, value}
  const resource = lenField(1, kv); // Resource.attributes = 1
  // ResourceSpans / ResourceMetrics { resource = 1 }; request { resource_spans|resource_metrics = 1 }
  void signal;
  return lenField(1, lenField(1, resource));
}

// ---- JSON mutations -----------------------------------------------------------------

export const JSON_MUTATIONS = ['charEdit', 'truncate', 'typeConfusion', 'deepNesting', 'notObject', 'hugeNumbers', 'badIds', 'randomText', 'duplicateKeys', 'bom'] as const;
export type JsonMutation = (typeof JSON_MUTATIONS)[number];

const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1e308, -1e308, 1.5, '', 'x', 'ffff', '-1', '1e30', '18446744073709551616', [], [null], {}, { a: 1 }, [[[]]], 'NaN'];

export function mutateJson(signal: Signal, kind: JsonMutation, seed: number): string {
  const r = rng(seed);
  const base = validJson(signal, seed);
  switch (kind) {
    case 'charEdit': {
      let s = base;
      const edits = r.int(1, 6);
      for (let i = 0; i < edits && s.length > 0; i++) {
        const at = r.int(0, s.length - 1);
        const op = r.int(0, 2);
        const ch = r.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '0', 'e', '-', ' ', '\u0000', '\ud800']);
        s = op === 0 ? s.slice(0, at) + s.slice(at + 1) : op === 1 ? s.slice(0, at) + ch + s.slice(at) : s.slice(0, at) + ch + s.slice(at + 1);
      }
      return s;
    }
    case 'truncate':
      return base.slice(0, r.int(0, base.length - 1));
    case 'typeConfusion': {
      // Replace a random node of the parsed request with a value of another type.
      const obj = JSON.parse(base);
      const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach((x, i) => (nodes.push({ parent: v, key: i }), walk(x)));
        else if (v && typeof v === 'object') for (const k of Object.keys(v)) nodes.push({ parent: v as Record<string, unknown>, key: k }), walk((v as Record<string, unknown>)[k]);
      };
      walk(obj);
      const n = r.int(1, 4);
      for (let i = 0; i < n && nodes.length > 0; i++) {
        const { parent, key } = r.pick(nodes);
        (parent as Record<string | number, unknown>)[key] = r.pick(WEIRD_VALUES);
      }
      return JSON.stringify(obj);
    }
    case 'deepNesting': {
      const depth = r.int(1000, 50_000);
      if (r.next() < 0.5) return '['.repeat(depth) + ']'.repeat(depth);
      // Deep AnyValue inside a resource attribute, as a well-formed JSON document.
      const open = '{"arrayValue":{"values":['.repeat(depth);
      const close = ']}}'.repeat(depth);
      const key = signal === 'traces' ? 'resourceSpans' : 'resourceMetrics';
      return `{"${key}":[{"resource":{"attributes":[{"key":"deep","value":${open}{"stringValue":"x"}${close}}]}}]}`;
    }
    case 'notObject':
      return r.pick(['null', '42', '"traces"', '[]', 'true', '{}x', '', ' ', '\u0000', '{"resourceSpans":null}', '{"resourceMetrics":7}']);
    case 'hugeNumbers': {
      const v = r.pick(['1e400', '-0', '99999999999999999999999999999', '-1', '1.5', '"-5"', '"0x10"', '"1e3"', '18446744073709551616']);
      return base.replace(/"(startTimeUnixNano|endTimeUnixNano|timeUnixNano|count|asInt)":"?[0-9]+"?/, `"$1":${v}`);
    }
    case 'badIds':
      return base.replace(/"(traceId|spanId|parentSpanId)":"[0-9a-f]*"/g, () => `"${r.pick(['$1', 'zz', 'abc', 'g'.repeat(32), '0'.repeat(33), '', 'AB'.repeat(8)])}":"${r.pick(['zz', 'abc', 'g'.repeat(32), '0'.repeat(33), '', 'AB'.repeat(8)])}"`);
    case 'randomText':
      return r.bytes(r.int(1, 300)).toString('latin1');
    case 'duplicateKeys':
      return base.replace(/^\{/, `{"${signal === 'traces' ? 'resourceSpans' : 'resourceMetrics'}":[1,2,3],`);
    case 'bom':
      return '\ufeff' + base;
  }
}

// ---- compression --------------------------------------------------------------------

export const GZIP_MUTATIONS = ['notGzip', 'truncatedGzip', 'corruptGzip', 'bomb', 'doubleGzip', 'deflateAsGzip', 'emptyGzip'] as const;
export type GzipMutation = (typeof GZIP_MUTATIONS)[number];

/** A body sent with Content-Encoding: gzip that is not a sound gzip of a valid request. */
export function badGzip(kind: GzipMutation, valid: Buffer, seed: number, bombBytes: number): Buffer {
  const r = rng(seed);
  const gz = zlib.gzipSync(valid);
  switch (kind) {
    case 'notGzip':
      return valid;
    case 'truncatedGzip':
      return gz.subarray(0, r.int(1, gz.length - 1));
    case 'corruptGzip': {
      const out = Buffer.from(gz);
      for (let i = 0; i < 4; i++) out[r.int(10, out.length - 1)] ^= 0xff;
      return out;
    }
    case 'bomb':
      // Kilobytes that inflate to more than the receiver's body limit.
      return zlib.gzipSync(Buffer.alloc(bombBytes), { level: 9 });
    case 'doubleGzip':
      return zlib.gzipSync(gz);
    case 'deflateAsGzip':
      return zlib.deflateSync(valid);
    case 'emptyGzip':
      return Buffer.alloc(0);
  }
}
