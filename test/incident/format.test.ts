// Recorded-incident folders: the writer's OTLP/JSON, the reader through the live decoder
// and store, gzip, errors that name file and line, and recording from a store.

import { mkdtemp, readFile, rm, writeFile, mkdir, readdir } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { JsonMetricsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { ROOT_CONTEXT, SpanKind as ApiSpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { simulateIncident } from '../../agent/incident/simulate';
import { writeIncident } from '../../agent/incident/writer';
import { loadIncident, readIncidentTruth } from '../../agent/incident/reader';
import { recordIncident } from '../../agent/incident/record';
import { msToUnixNanoString } from '../../agent/incident/otlp-json';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import type { Span } from '../../model/telemetry';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'faultline-incident-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const small = () =>
  simulateIncident({
    id: 'rt',
    seed: 5,
    durationMs: 40_000,
    faultAfterMs: 25_000,
    requestsPerSecond: 2,
    fault: { kind: 'cpu', service: 'ranker', instance: 'ranker-1' },
    baselineMs: 20_000,
  });

const bySpanId = (a: Span, b: Span) => (a.spanId < b.spanId ? -1 : 1);

describe('writer + reader round trip', () => {
  it.each([false, true])('gives back the same spans, metrics and baseline (gzip=%s)', async (gzip) => {
    const content = small();
    const dir = path.join(tmp, `rt-${gzip}`);
    await writeIncident(dir, content, { gzip, maxItemsPerLine: 300 });
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(gzip ? ['baseline', 'incident.json', 'metrics.jsonl.gz', 'traces.jsonl.gz'] : ['baseline', 'incident.json', 'metrics.jsonl', 'traces.jsonl']);

    const { meta, snapshot, warnings } = await loadIncident(dir);
    expect(warnings).toEqual([]);
    expect(meta).toEqual(content.meta);
    expect([...snapshot.spans].sort(bySpanId)).toEqual([...content.spans].sort(bySpanId));
    expect(snapshot.metrics).toHaveLength(content.metrics.length);
    expect(new Set(snapshot.metrics.map((p) => JSON.stringify([p.name, p.instance, p.timeMs, p.value, p.service, p.host, p.kind, p.unit])))).toEqual(
      new Set(content.metrics.map((p) => JSON.stringify([p.name, p.instance, p.timeMs, p.value, p.service, p.host, p.kind, p.unit]))),
    );
    expect(snapshot.baseline!.spans).toHaveLength(content.baseline!.spans.length);
    expect(snapshot.baseline!.metrics).toHaveLength(content.baseline!.metrics.length);
    // Baseline lies before the incident window and is not mixed into it.
    expect(Math.max(...snapshot.baseline!.spans.map((s) => s.startMs))).toBeLessThan(snapshot.fromMs);
    expect(snapshot.fromMs).toBe(Math.min(...content.spans.map((s) => s.startMs), ...content.metrics.map((p) => p.timeMs)));
  });

  it('writes OTLP/JSON as the spec says: hex ids, int64 strings, enum ints, typed values, resource attributes, bounded lines', async () => {
    const content = small();
    const dir = path.join(tmp, 'shape');
    await writeIncident(dir, content, { maxItemsPerLine: 250 });
    const lines = (await readFile(path.join(dir, 'traces.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.length).toBe(Math.ceil(content.spans.length / 250));
    const req = JSON.parse(lines[0]);
    let count = 0;
    for (const rs of req.resourceSpans) {
      const attrs = Object.fromEntries(rs.resource.attributes.map((kv: { key: string; value: unknown }) => [kv.key, kv.value]));
      expect(attrs['service.name']).toEqual({ stringValue: expect.any(String) });
      expect(attrs['service.instance.id']).toEqual({ stringValue: expect.any(String) });
      expect(attrs['host.name']).toEqual({ stringValue: expect.stringMatching(/^node-/) });
      expect(attrs['config.revision']).toEqual({ stringValue: 'r17' });
      for (const s of rs.scopeSpans[0].spans) {
        count++;
        expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
        expect(typeof s.startTimeUnixNano).toBe('string');
        expect(s.startTimeUnixNano).toMatch(/^\d{19}$/);
        expect([1, 2, 3]).toContain(s.kind);
        const status = s.attributes?.find((a: { key: string }) => a.key === 'http.response.status_code');
        if (status) expect(status.value).toEqual({ intValue: expect.stringMatching(/^\d+$/) });
      }
    }
    expect(count).toBe(250);
    const m = JSON.parse((await readFile(path.join(dir, 'metrics.jsonl'), 'utf8')).split('\n')[0]);
    const hostLevel = m.resourceMetrics.find((r: { resource: { attributes: Array<{ key: string }> } }) => !r.resource.attributes.some((a) => a.key === 'service.name'));
    expect(hostLevel.scopeMetrics[0].metrics.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['system.cpu.utilization']));
    const mem = m.resourceMetrics.flatMap((r: { scopeMetrics: Array<{ metrics: unknown[] }> }) => r.scopeMetrics[0].metrics).find((x: { name: string }) => x.name === 'process.memory.usage');
    expect(mem.sum).toMatchObject({ aggregationTemporality: 2, isMonotonic: false });
  });

  it('keeps nanosecond timestamps exact for whole-ms times and durations', () => {
    expect(msToUnixNanoString(1795168810000)).toBe('1795168810000000000');
    expect(msToUnixNanoString(1795168810000.5)).toBe('1795168810000500000');
  });
});

describe('reading what real OpenTelemetry tools write', () => {
  it('reads a line serialized by the OTel JS SDK JSON serializer (what an OTLP/HTTP JSON exporter sends)', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'ranker', 'service.instance.id': 'ranker-7', 'host.name': 'node-z', 'k8s.pod.name': 'ranker-7abc' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('test');
    const span = tracer.startSpan('POST /rank', { kind: ApiSpanKind.SERVER, attributes: { 'http.response.status_code': 500, ratio: 0.25, cached: false } });
    tracer.startSpan('POST /predict', { kind: ApiSpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, span)).end();
    span.recordException(new Error('boom'));
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const line = Buffer.from(JsonTraceSerializer.serializeRequest(spans)!).toString('utf8');
    const dir = path.join(tmp, 'sdk');
    await mkdir(dir);
    await writeFile(path.join(dir, 'traces.jsonl'), line + '\n');
    await writeFile(path.join(dir, 'incident.json'), JSON.stringify({ id: 'sdk' }));
    const { snapshot } = await loadIncident(dir);
    expect(snapshot.spans).toHaveLength(2);
    const server = snapshot.spans.find((s) => s.kind === 2)!;
    expect(server).toMatchObject({ service: 'ranker', instance: 'ranker-7', host: 'node-z', name: 'POST /rank', status: 2, statusMessage: 'boom', exceptionCount: 1 });
    expect(server.attributes).toEqual({ 'http.response.status_code': 500, ratio: 0.25, cached: false });
    expect(server.resource['k8s.pod.name']).toBe('ranker-7abc');
    expect(server.traceId).toBe(span.spanContext().traceId);
    expect(server.spanId).toBe(span.spanContext().spanId);
    const client = snapshot.spans.find((s) => s.kind === 3)!;
    expect(client.parentSpanId).toBe(server.spanId);
    await provider.shutdown();
  });

  it('reads metrics serialized by the OTel JS SDK JSON serializer, instance and host attributed', async () => {
    class CollectingReader extends MetricReader {
      protected async onForceFlush(): Promise<void> {}
      protected async onShutdown(): Promise<void> {}
    }
    const reader = new CollectingReader();
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'ranker', 'service.instance.id': 'ranker-7', 'host.name': 'node-z' }),
      readers: [reader],
    });
    const meter = provider.getMeter('test');
    meter.createCounter('rank.requests').add(5, { route: '/rank' });
    meter.createHistogram('rank.duration', { unit: 'ms' }).record(12, { route: '/rank' });
    meter.createObservableGauge('process.cpu.utilization', { unit: '1' }).addCallback((r) => r.observe(0.93));
    const { resourceMetrics } = await reader.collect();
    const line = Buffer.from(JsonMetricsSerializer.serializeRequest(resourceMetrics)!).toString('utf8');
    const dir = path.join(tmp, 'sdk-metrics');
    await mkdir(dir);
    await writeFile(path.join(dir, 'traces.jsonl'), '');
    await writeFile(path.join(dir, 'metrics.jsonl'), line + '\n');
    const { snapshot } = await loadIncident(dir);
    const byName = Object.fromEntries(snapshot.metrics.map((p) => [p.name, p]));
    expect(byName['rank.requests']).toMatchObject({ kind: 'counter', value: 5, service: 'ranker', instance: 'ranker-7', host: 'node-z', labels: { route: '/rank' } });
    expect(byName['rank.duration']).toMatchObject({ kind: 'histogram', value: 12, count: 1, unit: 'ms' });
    expect(byName['process.cpu.utilization']).toMatchObject({ kind: 'gauge', value: 0.93 });
    await provider.shutdown();
  });
});

describe('errors name the file and the line', () => {
  async function incidentWith(name: string, traces: string, meta: unknown = { id: name }): Promise<string> {
    const dir = path.join(tmp, name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'incident.json'), typeof meta === 'string' ? meta : JSON.stringify(meta));
    await writeFile(path.join(dir, 'traces.jsonl'), traces);
    return dir;
  }

  it('a line that is not JSON', async () => {
    const good = JSON.stringify({ resourceSpans: [] });
    const dir = await incidentWith('badjson', `${good}\n${good}\n{"resourceSpans": [oops\n`);
    await expect(loadIncident(dir)).rejects.toThrow(`${path.join(dir, 'traces.jsonl')}:3: `);
  });

  it('a line of the wrong shape', async () => {
    const dir = await incidentWith('badshape', `${JSON.stringify({ resourceSpans: 'nope' })}\n`);
    await expect(loadIncident(dir)).rejects.toThrow(/traces\.jsonl:1: not a valid OTLP\/JSON ExportTraceServiceRequest/);
  });

  it('a corrupt gzip file', async () => {
    const dir = path.join(tmp, 'badgz');
    await writeIncident(dir, small(), { gzip: true });
    const gz = await readFile(path.join(dir, 'traces.jsonl.gz'));
    await writeFile(path.join(dir, 'traces.jsonl.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    await expect(loadIncident(dir)).rejects.toThrow(/traces\.jsonl\.gz:\d+: /);
  });

  it('incident.json that is not valid', async () => {
    const dir = await incidentWith('badmeta', '', '{"id": 3}');
    await expect(loadIncident(dir)).rejects.toThrow(`${path.join(dir, 'incident.json')}: "id" must be a non-empty string`);
    const dir2 = await incidentWith('badtruth', '', { id: 'x', truth: { service: 'a', kind: 'cosmic-rays', start: '2026-01-01T00:00:00Z' } });
    await expect(loadIncident(dir2)).rejects.toThrow(/truth\.kind" must be one of cpu, memory/);
  });

  it('a missing folder or traces file', async () => {
    await expect(loadIncident(path.join(tmp, 'nope'))).rejects.toThrow(/nope: no such incident folder/);
    const dir = path.join(tmp, 'notraces');
    await mkdir(dir);
    await expect(loadIncident(dir)).rejects.toThrow(/traces\.jsonl: missing/);
  });

  it('both plain and gzip files', async () => {
    const dir = await incidentWith('both', '');
    await writeFile(path.join(dir, 'traces.jsonl.gz'), '');
    await expect(loadIncident(dir)).rejects.toThrow(/both traces\.jsonl and traces\.jsonl\.gz/);
  });
});

describe('truth', () => {
  it('can be left out of what the loader returns and read afterwards', async () => {
    const dir = path.join(tmp, 'truth');
    const content = small();
    await writeIncident(dir, content);
    const { meta } = await loadIncident(dir, { withoutTruth: true });
    expect(meta.truth).toBeUndefined();
    expect(await readIncidentTruth(dir)).toEqual(content.meta.truth);
  });
});

describe('recordIncident', () => {
  it('writes a window of a live store that loads back to the same spans', async () => {
    const content = small();
    const store = new TelemetryStore();
    store.consumeSpans(content.spans);
    store.consumeMetrics(content.metrics);
    const from = content.spans[0].startMs + 10_000;
    const to = from + 15_000;
    const dir = path.join(tmp, 'recorded');
    const rec = await recordIncident(store, from, to, dir, { id: 'recorded', description: 'from a store' }, { gzip: true });
    const expected = content.spans.filter((s) => s.startMs >= from && s.startMs < to);
    expect(rec.spans).toBe(expected.length);
    const { snapshot, meta } = await loadIncident(dir);
    expect(meta).toEqual({ id: 'recorded', description: 'from a store' });
    expect([...snapshot.spans].sort(bySpanId)).toEqual([...expected].sort(bySpanId));
    expect(gunzipSync(await readFile(path.join(dir, 'traces.jsonl.gz'))).toString().startsWith('{"resourceSpans":')).toBe(true);
    await expect(recordIncident(store, to, from, dir, { id: 'x' })).rejects.toThrow(/fromMs < toMs/);
  });
});
