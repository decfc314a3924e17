// The OTLP decoders against an oracle: requests encoded by the generated protobufjs root of
// otlp-transformer@0.214.0, expected results mapped from that root's own decode. Plus the
// same requests as OTLP/JSON, and the real 0.223.0 serializers on real SDK spans/metrics.

import { JsonMetricsSerializer, JsonTraceSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { OtlpDecodeError, decodeMetrics, decodeTraces } from '../../collectors/otlp/decode';
import { encodeMetrics, encodeTraces, randomMetricsRequest, randomTraceRequest, referenceMetrics, referenceSpans, rng, toOtlpJson } from './oracle';

const SEEDS = Array.from({ length: 60 }, (_, i) => 1000 + i * 7919);

describe('protobuf traces against the generated-root oracle', () => {
  test.each(SEEDS)('seed %i', (seed) => {
    const bytes = encodeTraces(randomTraceRequest(seed));
    const want = referenceSpans(bytes);
    const got = decodeTraces(bytes, 'protobuf');
    expect(got.items).toEqual(want.spans);
    expect(got.rejected).toBe(want.rejected);
    if (want.rejected > 0) expect(got.rejectionMessage).toMatch(/^resourceSpans\[\d+\]\.scopeSpans\[\d+\]\.spans\[\d+\]\.\w+: /);
    else expect(got.rejectionMessage).toBeUndefined();
  });

  test('durations are exact to the ns and ids are lowercase hex', () => {
    const start = 1_763_900_123_456_789_123n;
    const bytes = encodeTraces({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ranker' } }] },
          scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 0xab), spanId: Buffer.alloc(8, 0xcd), name: 'op', startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1_234_567_891n) }] }],
        },
      ],
    });
    const [s] = decodeTraces(bytes, 'protobuf').items;
    expect(s.traceId).toBe('ab'.repeat(16));
    expect(s.spanId).toBe('cd'.repeat(8));
    expect(s.parentSpanId).toBe('');
    expect(Math.round(s.durationMs * 1e6)).toBe(1_234_567_891);
    expect(Math.abs(s.startMs - 1_763_900_123_456.789123)).toBeLessThan(0.001);
    expect(s.instance).toBe('ranker');
    expect(s.host).toBe('');
  });

  test('a bad trace id rejects only that span, and the message says where and what', () => {
    const good = { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'ok', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' };
    const bytes = encodeTraces({
      resourceSpans: [{ scopeSpans: [{ spans: [good] }, { spans: [good, good, good, { ...good, traceId: Buffer.alloc(5, 1) }] }] }],
    });
    const r = decodeTraces(bytes, 'protobuf');
    expect(r.items).toHaveLength(4);
    expect(r.rejected).toBe(1);
    expect(r.rejectionMessage).toBe('resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 16 bytes, got 5');
    expect(r.items[0].service).toBe('unknown_service');
  });

  test('truncated and garbled protobuf throws OtlpDecodeError naming the place', () => {
    const bytes = encodeTraces(randomTraceRequest(42, { invalid: false }));
    let thrown = 0;
    for (let cut = 1; cut < bytes.length; cut += 3) {
      try {
        decodeTraces(bytes.subarray(0, cut), 'protobuf');
      } catch (e) {
        expect(e).toBeInstanceOf(OtlpDecodeError);
        expect((e as Error).message).toMatch(/^resourceSpans\[\d+\]/);
        thrown++;
      }
    }
    // Only cuts exactly at a resourceSpans boundary decode; almost all must fail.
    expect(thrown).toBeGreaterThan(bytes.length / 3 - 5);
    // A known field with the wrong wire type: resourceSpans as a varint.
    expect(() => decodeTraces(Buffer.from([0x08, 0x01]), 'protobuf')).toThrow('resourceSpans: wire type varint, expected len');
    // Random bytes never crash with anything but OtlpDecodeError.
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + (i % 50) }, (_, j) => (i * 131 + j * 17) & 255));
      try {
        decodeTraces(junk, 'protobuf');
      } catch (e) {
        expect(e).toBeInstanceOf(OtlpDecodeError);
      }
    }
  });

  test('an empty body is a valid empty request', () => {
    expect(decodeTraces(new Uint8Array(0), 'protobuf')).toEqual({ items: [], rejected: 0 });
  });
});

describe('JSON traces decode like protobuf', () => {
  test.each(SEEDS.slice(0, 30))('seed %i', (seed) => {
    const obj = randomTraceRequest(seed);
    const fromProto = decodeTraces(encodeTraces(obj), 'protobuf');
    const fromJson = decodeTraces(JSON.stringify(toOtlpJson(obj)), 'json');
    expect(fromJson.rejected).toBe(fromProto.rejected);
    expect(fromJson.rejectionMessage).toBe(fromProto.rejectionMessage);
    expect(fromJson.items.length).toBe(fromProto.items.length);
    fromJson.items.forEach((s, i) => {
      const p = fromProto.items[i];
      expect(Math.abs(s.startMs - p.startMs)).toBeLessThan(1e-3);
      expect({ ...s, startMs: 0 }).toEqual({ ...p, startMs: 0 });
    });
  });

  test('int64 as numbers, enum names, uppercase hex and snake_case are accepted', () => {
    const body = JSON.stringify({
      resource_spans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }, { key: 'host.name', value: { stringValue: 'h1' } }] },
          scope_spans: [
            {
              spans: [
                { trace_id: 'AB'.repeat(16), spanId: '01'.repeat(8), name: 'x', kind: 'SPAN_KIND_SERVER', startTimeUnixNano: 1700000000000000000, endTimeUnixNano: 1700000000500000000, status: { code: 'STATUS_CODE_ERROR', message: 'bad' } },
              ],
            },
          ],
        },
      ],
    });
    const [s] = decodeTraces(body, 'json').items;
    expect(s).toMatchObject({ traceId: 'ab'.repeat(16), kind: 2, status: 2, statusMessage: 'bad', service: 'svc', instance: 'h1', host: 'h1', durationMs: 500 });
  });

  test('wrong JSON types fail the request with a path', () => {
    expect(() => decodeTraces('{"resourceSpans": {}}', 'json')).toThrow('resourceSpans: expected an array, got object');
    expect(() => decodeTraces('{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":true}]}]}]}', 'json')).toThrow(
      'resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected an unsigned integer (number or decimal string), got boolean',
    );
    expect(() => decodeTraces('{"resourceSpans":[3]}', 'json')).toThrow('resourceSpans[0]: expected an object, got number');
    expect(() => decodeTraces('[]', 'json')).toThrow(OtlpDecodeError);
    expect(() => decodeTraces('{"resourceSpans": [', 'json')).toThrow(/invalid JSON/);
    expect(() => decodeTraces('', 'json')).toThrow('empty body');
  });

  test('a non-hex id rejects only its span', () => {
    const span = (id: string) => ({ traceId: id, spanId: '01'.repeat(8), name: 'x', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' });
    const r = decodeTraces(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span('zz'.repeat(16)), span('ab'.repeat(16))] }] }] }), 'json');
    expect(r.items).toHaveLength(1);
    expect(r.rejected).toBe(1);
    expect(r.rejectionMessage).toMatch(/^resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId: .* is not an even-length hex string$/);
  });
});

describe('metrics against the oracle', () => {
  test.each(SEEDS)('protobuf seed %i', (seed) => {
    const bytes = encodeMetrics(randomMetricsRequest(seed));
    const want = referenceMetrics(bytes);
    const got = decodeMetrics(bytes, 'protobuf');
    expect(got.items).toEqual(want.points);
    expect(got.rejected).toBe(want.rejected);
  });

  test.each(SEEDS.slice(0, 30))('JSON seed %i equals protobuf', (seed) => {
    const obj = randomMetricsRequest(seed);
    const fromProto = decodeMetrics(encodeMetrics(obj), 'protobuf');
    const fromJson = decodeMetrics(JSON.stringify(toOtlpJson(obj)), 'json');
    expect(fromJson.rejected).toBe(fromProto.rejected);
    expect(fromJson.items.map((p) => ({ ...p, timeMs: Math.round(p.timeMs) }))).toEqual(fromProto.items.map((p) => ({ ...p, timeMs: Math.round(p.timeMs) })));
  });
});

describe('real 0.223.0 serializers on real SDK telemetry', () => {
  test('traces: protobuf and JSON serializations decode to the same spans', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'ranker', 'service.instance.id': 'r-1', 'host.name': 'node-7', 'deployment.environment': 'test' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('t');
    // No context manager here: pass the parent's context explicitly.
    const sdkParent = tracer.startSpan('POST /rank', { attributes: { 'http.status_code': 500, tags: ['a', 'b'] } });
    const sdkChild = tracer.startSpan('feature-fetch', {}, trace.setSpan(ROOT_CONTEXT, sdkParent));
    sdkChild.recordException(new Error('timeout'));
    sdkChild.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
    sdkChild.end();
    sdkParent.end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const pb = decodeTraces(ProtobufTraceSerializer.serializeRequest(spans)!, 'protobuf');
    const js = decodeTraces(JsonTraceSerializer.serializeRequest(spans)!, 'json');
    expect(pb.rejected).toBe(0);
    expect(js.items.map((s) => ({ ...s, startMs: Math.round(s.startMs) }))).toEqual(pb.items.map((s) => ({ ...s, startMs: Math.round(s.startMs) })));
    const child = pb.items.find((s) => s.name === 'feature-fetch')!;
    const parent = pb.items.find((s) => s.name === 'POST /rank')!;
    expect(child.parentSpanId).toBe(parent.spanId);
    expect(child.traceId).toBe(spans[0].spanContext().traceId);
    expect(child).toMatchObject({ status: 2, statusMessage: 'timeout', exceptionCount: 1, service: 'ranker', instance: 'r-1', host: 'node-7' });
    expect(child.resource['deployment.environment']).toBe('test');
    expect(parent.attributes).toMatchObject({ 'http.status_code': 500, tags: '["a","b"]' });
    await provider.shutdown();
  });

  test('metrics: counter, updowncounter, gauge, histogram', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'recall' }), readers: [reader] });
    const meter = provider.getMeter('m');
    meter.createCounter('requests').add(5, { route: '/rank' });
    meter.createUpDownCounter('queue.depth').add(-3);
    meter.createGauge('cpu.util', { unit: '1' }).record(0.75);
    const h = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
    h.record(5);
    h.record(50);
    h.record(500);
    await reader.forceFlush();
    const rm = exporter.getMetrics()[0];
    const pb = decodeMetrics(ProtobufMetricsSerializer.serializeRequest(rm)!, 'protobuf');
    const js = decodeMetrics(JsonMetricsSerializer.serializeRequest(rm)!, 'json');
    expect(js.items.map((p) => ({ ...p, timeMs: Math.round(p.timeMs) }))).toEqual(pb.items.map((p) => ({ ...p, timeMs: Math.round(p.timeMs) })));
    const by = Object.fromEntries(pb.items.map((p) => [p.name, p]));
    expect(by.requests).toMatchObject({ kind: 'counter', value: 5, labels: { route: '/rank' }, service: 'recall' });
    expect(by['queue.depth']).toMatchObject({ kind: 'updowncounter', value: -3 });
    expect(by['cpu.util']).toMatchObject({ kind: 'gauge', value: 0.75, unit: '1' });
    expect(by.latency).toMatchObject({ kind: 'histogram', value: 555, count: 3, bucketBounds: [10, 100], bucketCounts: [1, 1, 1], unit: 'ms' });
    await provider.shutdown();
  });

  test('metrics: delta temporality is marked, cumulative is not', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'recall' }), readers: [reader] });
    const meter = provider.getMeter('m');
    meter.createCounter('requests').add(2);
    meter.createGauge('g').record(1);
    await reader.forceFlush();
    const rm = exporter.getMetrics()[0];
    for (const got of [decodeMetrics(ProtobufMetricsSerializer.serializeRequest(rm)!, 'protobuf'), decodeMetrics(JsonMetricsSerializer.serializeRequest(rm)!, 'json')]) {
      const by = Object.fromEntries(got.items.map((p) => [p.name, p]));
      expect(by.requests).toMatchObject({ kind: 'counter', value: 2, temporality: 'delta' });
      expect(by.g.temporality).toBeUndefined();
    }
    await provider.shutdown();
  });
});

describe('hostile input never escapes as anything but OtlpDecodeError', () => {
  const JUNK: unknown[] = [null, 5, -1, 1.5, 'x', '', true, [], {}, [1], { a: 1 }, '1e3', 'NaN', 2 ** 64];

  /** Replace one randomly chosen value anywhere in the tree by a junk value of another type. */
  function mutate(obj: unknown, r: ReturnType<typeof rng>): unknown {
    const copy = JSON.parse(JSON.stringify(obj));
    const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach((x, i) => (slots.push([v, i]), walk(x)));
      else if (v && typeof v === 'object') for (const k of Object.keys(v)) slots.push([v as Record<string, unknown>, k]), walk((v as Record<string, unknown>)[k]);
    };
    walk(copy);
    for (let n = r.int(1, 3); n > 0 && slots.length; n--) {
      const [parent, key] = slots[r.int(0, slots.length - 1)];
      (parent as Record<string | number, unknown>)[key] = r.pick(JUNK);
    }
    return copy;
  }

  test('mutated OTLP/JSON traces and metrics', () => {
    const r = rng(99);
    for (let i = 0; i < 200; i++) {
      const traces = mutate(toOtlpJson(randomTraceRequest(i)), r);
      const metrics = mutate(toOtlpJson(randomMetricsRequest(i)), r);
      for (const [fn, body] of [
        [decodeTraces, traces],
        [decodeMetrics, metrics],
      ] as const) {
        try {
          fn(JSON.stringify(body), 'json');
        } catch (e) {
          if (!(e instanceof OtlpDecodeError)) throw new Error(`seed ${i}: ${(e as Error).stack}\n${JSON.stringify(body).slice(0, 500)}`);
        }
      }
    }
  });

  test('bit-flipped protobuf traces and metrics', () => {
    const r = rng(7);
    for (let i = 0; i < 200; i++) {
      for (const [fn, bytes] of [
        [decodeTraces, encodeTraces(randomTraceRequest(i))],
        [decodeMetrics, encodeMetrics(randomMetricsRequest(i))],
      ] as const) {
        if (bytes.length === 0) continue;
        const b = Buffer.from(bytes);
        for (let k = r.int(1, 4); k > 0; k--) b[r.int(0, b.length - 1)] ^= 1 << r.int(0, 7);
        try {
          fn(b, 'protobuf');
        } catch (e) {
          if (!(e instanceof OtlpDecodeError)) throw new Error(`seed ${i}: ${(e as Error).stack}`);
        }
      }
    }
  });

  test('deeply nested attribute values are refused, not a stack overflow', () => {
    let v: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < 1000; i++) v = { arrayValue: { values: [v] } };
    const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'k', value: v }] } }] });
    expect(() => decodeTraces(body, 'json')).toThrow(/nested deeper than 16 levels/);
    let pb: object = { stringValue: 'leaf' };
    for (let i = 0; i < 100; i++) pb = { arrayValue: { values: [pb] } };
    const bytes = encodeTraces({ resourceSpans: [{ resource: { attributes: [{ key: 'k', value: pb }] } }] });
    expect(() => decodeTraces(bytes, 'protobuf')).toThrow(/^resourceSpans\[0\]\.resource\.attributes\[0\]: attribute value nested deeper than 16 levels/);
  });
});
