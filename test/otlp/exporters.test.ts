// The real OpenTelemetry JS SDK (0.223.0 exporters) sending to a running receiver over
// loopback: http/json, http/protobuf and gRPC trace exporters (plain and gzip) and the
// OTLP metric exporters. Afterwards the store must hold exactly what the SDK recorded.

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { hrTimeToMilliseconds, hrTimeToNanoseconds } from '@opentelemetry/core';
import { OTLPMetricExporter as MetricExporterHttp } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricExporterProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricExporterGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter as TraceExporterGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TraceExporterHttp } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceExporterProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Span } from '../../model/telemetry';
import { type Running, startReceiver } from './helpers';

let rx: Running;
beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx?.receiver.stop();
});

const EXPORTERS: Array<[string, () => SpanExporter]> = [
  ['http/json', () => new TraceExporterHttp({ url: `${rx.http}/v1/traces` })],
  ['http/protobuf', () => new TraceExporterProto({ url: `${rx.http}/v1/traces` })],
  ['http/protobuf gzip', () => new TraceExporterProto({ url: `${rx.http}/v1/traces`, compression: CompressionAlgorithm.GZIP })],
  ['http/json gzip', () => new TraceExporterHttp({ url: `${rx.http}/v1/traces`, compression: CompressionAlgorithm.GZIP })],
  ['grpc', () => new TraceExporterGrpc({ url: `http://${rx.grpc}` })],
  ['grpc gzip', () => new TraceExporterGrpc({ url: `http://${rx.grpc}`, compression: CompressionAlgorithm.GZIP })],
];

/** Record a small trace (server -> client -> error with exception) and return what the SDK saw. */
async function sendTrace(exporter: SpanExporter, service: string): Promise<ReadableSpan[]> {
  const seen = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': `${service}-1`, 'host.name': 'node-3', 'k8s.pod.name': 'pod-a' }),
    spanProcessors: [new SimpleSpanProcessor(seen), new BatchSpanProcessor(exporter, { scheduledDelayMillis: 50 })],
  });
  const tracer = provider.getTracer('test');
  const root = tracer.startSpan('POST /rank', { kind: SpanKind.SERVER, attributes: { 'http.route': '/rank', 'http.status_code': 200, items: [1, 2, 3], ratio: 0.25, cached: true } });
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  for (let i = 0; i < 3; i++) {
    const child = tracer.startSpan(`feature-fetch-${i}`, { kind: SpanKind.CLIENT }, ctx);
    if (i === 2) {
      child.recordException(new Error('deadline exceeded'));
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'deadline exceeded' });
    }
    await new Promise((r) => setTimeout(r, 2));
    child.end();
  }
  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
  await provider.forceFlush();
  const finished = seen.getFinishedSpans(); // shutdown() empties the in-memory exporter
  await provider.shutdown();
  return finished;
}

function expectStored(sdk: ReadableSpan[]): void {
  for (const s of sdk) {
    const { traceId, spanId } = s.spanContext();
    const got = rx.store.querySpans({ traceId }).filter((x) => x.spanId === spanId);
    expect(got).toHaveLength(1);
    const stored: Span = got[0];
    const durNs = hrTimeToNanoseconds(s.duration);
    expect(stored).toMatchObject({
      traceId,
      spanId,
      parentSpanId: s.parentSpanContext?.spanId ?? '',
      name: s.name,
      kind: s.kind + 1, // API SpanKind is OTLP's minus one
      status: s.status.code,
      statusMessage: s.status.message ?? '',
      host: 'node-3',
      resource: { 'k8s.pod.name': 'pod-a' },
      exceptionCount: s.events.filter((e) => e.name === 'exception').length,
    });
    expect(Math.abs(stored.startMs - hrTimeToMilliseconds(s.startTime))).toBeLessThan(0.001);
    expect(Math.round(stored.durationMs * 1e6)).toBe(durNs);
    const attrs = Object.fromEntries(Object.entries(s.attributes).map(([k, v]) => [k, Array.isArray(v) ? JSON.stringify(v) : v]));
    expect(stored.attributes).toEqual(attrs);
  }
}

describe.each(EXPORTERS)('trace exporter %s', (label, make) => {
  test('the store holds exactly the spans sent', async () => {
    const service = `svc-${label.replace(/\W+/g, '-')}`;
    const before = rx.store.querySpans({ service }).length;
    const sdk = await sendTrace(make(), service);
    expect(sdk).toHaveLength(4);
    expect(rx.store.querySpans({ service }).length - before).toBe(4);
    expectStored(sdk);
    const stored = rx.store.querySpans({ service });
    expect(stored.every((s) => s.instance === `${service}-1`)).toBe(true);
  });
});

const METRIC_EXPORTERS: Array<[string, () => PushMetricExporter]> = [
  ['http/json', () => new MetricExporterHttp({ url: `${rx.http}/v1/metrics` })],
  ['http/protobuf gzip', () => new MetricExporterProto({ url: `${rx.http}/v1/metrics`, compression: CompressionAlgorithm.GZIP })],
  ['grpc', () => new MetricExporterGrpc({ url: `http://${rx.grpc}` })],
];

describe.each(METRIC_EXPORTERS)('metric exporter %s', (label, make) => {
  test('counter, up-down counter, gauge and histogram points arrive with labels', async () => {
    const service = `m-${label.replace(/\W+/g, '-')}`;
    const reader = new PeriodicExportingMetricReader({ exporter: make(), exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': service, 'host.name': 'node-9' }), readers: [reader] });
    const meter = provider.getMeter('test');
    meter.createCounter('rank.requests').add(7, { route: '/rank' });
    meter.createUpDownCounter('rank.queue').add(-2);
    meter.createGauge('rank.cpu', { unit: '1' }).record(0.5, { core: '0' });
    const h = meter.createHistogram('rank.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [5, 50] } });
    [1, 10, 100, 200].forEach((v) => h.record(v));
    await reader.forceFlush();
    await provider.shutdown();
    const points = rx.store.queryMetrics({ service });
    const by = Object.fromEntries(points.map((p) => [p.name, p]));
    expect(by['rank.requests']).toMatchObject({ kind: 'counter', value: 7, labels: { route: '/rank' }, instance: 'node-9', host: 'node-9' });
    expect(by['rank.queue']).toMatchObject({ kind: 'updowncounter', value: -2 });
    expect(by['rank.cpu']).toMatchObject({ kind: 'gauge', value: 0.5, unit: '1', labels: { core: '0' } });
    expect(by['rank.latency']).toMatchObject({ kind: 'histogram', value: 311, count: 4, bucketBounds: [5, 50], bucketCounts: [1, 1, 2], unit: 'ms' });
    expect(Math.abs(by['rank.requests'].timeMs - Date.now())).toBeLessThan(60_000);
  });
});
