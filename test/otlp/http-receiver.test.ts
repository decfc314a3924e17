// OTLP/HTTP receiver over real loopback HTTP: answers per the OTLP/HTTP spec in the
// request's content type, refuses bad input with the right status and a message saying what
// is wrong, sheds load before decoding, and keeps serving (and keeps what it accepted).

import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { TraceResponse, encodeMetrics, encodeTraces, randomMetricsRequest, randomTraceRequest, referenceSpans, toOtlpJson } from './oracle';
import { SelfMetrics } from '../../agent/self-metrics';
import { type Running, decodeStatus, startReceiver } from './helpers';

const PB = { 'content-type': 'application/x-protobuf' };
const JSON_CT = { 'content-type': 'application/json' };

async function post(base: string, path: string, body: Uint8Array | string, headers: Record<string, string>) {
  const res = await fetch(base + path, { method: 'POST', headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', retryAfter: res.headers.get('retry-after'), bytes, text: bytes.toString('utf8') };
}

function oneSpan(id: number, extra: object = {}) {
  return {
    traceId: Buffer.alloc(16, id),
    spanId: Buffer.alloc(8, id),
    name: `op-${id}`,
    startTimeUnixNano: '1763900000000000000',
    endTimeUnixNano: '1763900000001000000',
    ...extra,
  };
}
const request = (spans: object[]) => ({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ spans }] }] });

describe('OTLP/HTTP receiver', () => {
  let rx: Running;
  beforeAll(async () => {
    rx = await startReceiver((c) => {
      c.grpc.enabled = false;
      c.http.maxBodyBytes = 256 * 1024;
    });
  });
  afterAll(async () => {
    await rx?.receiver.stop();
  });

  test('protobuf in, empty protobuf ExportTraceServiceResponse out, spans stored exactly', async () => {
    const bytes = encodeTraces(randomTraceRequest(7, { invalid: false }));
    const before = rx.store.stats().spans;
    const r = await post(rx.http, '/v1/traces', bytes, PB);
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/x-protobuf');
    expect(r.bytes.length).toBe(0);
    const want = referenceSpans(bytes).spans;
    expect(rx.store.stats().spans - before).toBe(want.length);
    for (const s of want) expect(rx.store.querySpans({ traceId: s.traceId }).find((x) => x.spanId === s.spanId)).toEqual(s);
  });

  test('JSON in, {} out; application/protobuf alias and charset parameters accepted', async () => {
    const r = await post(rx.http, '/v1/traces', JSON.stringify(toOtlpJson(request([oneSpan(1)]))), { 'content-type': 'application/json; charset=utf-8' });
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(JSON.parse(r.text)).toEqual({});
    expect(rx.store.querySpans({ traceId: '01'.repeat(16) })).toHaveLength(1);
    const r2 = await post(rx.http, '/v1/traces', encodeTraces(request([oneSpan(2)])), { 'content-type': 'application/protobuf' });
    expect(r2.status).toBe(200);
    expect(r2.type).toBe('application/x-protobuf');
  });

  test('partial success: invalid spans rejected and counted, the rest stored', async () => {
    const bytes = encodeTraces(request([oneSpan(3), oneSpan(4, { traceId: Buffer.alloc(5, 4) })]));
    const r = await post(rx.http, '/v1/traces', bytes, PB);
    expect(r.status).toBe(200);
    const resp = TraceResponse.toObject(TraceResponse.decode(r.bytes), { longs: Number });
    expect(resp.partialSuccess).toEqual({ rejectedSpans: 1, errorMessage: 'resourceSpans[0].scopeSpans[0].spans[1].traceId: expected 16 bytes, got 5' });
    expect(rx.store.querySpans({ traceId: '03'.repeat(16) })).toHaveLength(1);

    const rj = await post(rx.http, '/v1/traces', JSON.stringify(toOtlpJson(request([oneSpan(5), oneSpan(6, { name: '' })]))), JSON_CT);
    expect(rj.status).toBe(200);
    expect(JSON.parse(rj.text)).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: 'resourceSpans[0].scopeSpans[0].spans[1].name: missing' } });
  });

  test('gzip and deflate bodies', async () => {
    const bytes = encodeTraces(request([oneSpan(10)]));
    const gz = await post(rx.http, '/v1/traces', zlib.gzipSync(bytes), { ...PB, 'content-encoding': 'gzip' });
    expect(gz.status).toBe(200);
    const df = await post(rx.http, '/v1/traces', zlib.deflateSync(encodeTraces(request([oneSpan(11)]))), { ...PB, 'content-encoding': 'deflate' });
    expect(df.status).toBe(200);
    expect(rx.store.querySpans({ traceId: '0a'.repeat(16) })).toHaveLength(1);
    expect(rx.store.querySpans({ traceId: '0b'.repeat(16) })).toHaveLength(1);
  });

  test('metrics and logs endpoints', async () => {
    const m = await post(rx.http, '/v1/metrics', encodeMetrics(randomMetricsRequest(3, { invalid: false })), PB);
    expect(m.status).toBe(200);
    expect(rx.store.stats().metricPoints).toBeGreaterThan(0);
    const l = await post(rx.http, '/v1/logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'hi' } }] }] }] }), JSON_CT);
    expect(l.status).toBe(200);
    expect(JSON.parse(l.text)).toEqual({});
  });

  describe('bad input: right status, a message naming the problem, and the server keeps serving', () => {
    const stored = () => rx.store.stats().spans;

    test('truncated protobuf -> 400 google.rpc.Status in protobuf', async () => {
      const n = stored();
      const bytes = encodeTraces(request([oneSpan(20), oneSpan(21)]));
      const r = await post(rx.http, '/v1/traces', bytes.subarray(0, bytes.length - 7), PB);
      expect(r.status).toBe(400);
      expect(r.type).toBe('application/x-protobuf');
      const st = decodeStatus(r.bytes);
      expect(st.code).toBe(3);
      expect(st.message).toMatch(/^resourceSpans\[0\].*truncated/);
      expect(stored()).toBe(n);
    });

    test('wrong JSON types, invalid JSON, empty JSON body -> 400 JSON Status', async () => {
      const bad = await post(rx.http, '/v1/traces', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}', JSON_CT);
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.text)).toEqual({ code: 3, message: 'resourceSpans[0].scopeSpans[0].spans[0].name: expected a string, got number' });
      const broken = await post(rx.http, '/v1/traces', '{"resourceSpans":', JSON_CT);
      expect(broken.status).toBe(400);
      expect(JSON.parse(broken.text).message).toMatch(/^invalid JSON/);
      const empty = await post(rx.http, '/v1/metrics', '', JSON_CT);
      expect(empty.status).toBe(400);
      expect(JSON.parse(empty.text).message).toBe('empty body');
    });

    test('an empty protobuf body is a valid empty request', async () => {
      const r = await post(rx.http, '/v1/traces', new Uint8Array(0), PB);
      expect(r.status).toBe(200);
    });

    test('bad ids alone are a partial success, not a failure', async () => {
      const r = await post(rx.http, '/v1/traces', encodeTraces(request([oneSpan(22, { spanId: Buffer.alloc(3, 1) })])), PB);
      expect(r.status).toBe(200);
      expect(TraceResponse.decode(r.bytes).partialSuccess.errorMessage).toMatch(/spanId: expected 8 bytes, got 3/);
    });

    test('bad gzip -> 400; unsupported encoding -> 415', async () => {
      const r = await post(rx.http, '/v1/traces', Buffer.from('not gzip at all'), { ...PB, 'content-encoding': 'gzip' });
      expect(r.status).toBe(400);
      expect(decodeStatus(r.bytes).message).toMatch(/^invalid gzip body/);
      const br = await post(rx.http, '/v1/traces', Buffer.from('x'), { ...PB, 'content-encoding': 'zstd' });
      expect(br.status).toBe(415);
    });

    test('oversized body -> 413; gzip bomb -> 413', async () => {
      const big = Buffer.alloc(300 * 1024, 1);
      const r = await post(rx.http, '/v1/traces', big, PB);
      expect(r.status).toBe(413);
      expect(decodeStatus(r.bytes).message).toMatch(/exceeds the limit of 262144 bytes/);
      // Without Content-Length (chunked), fastify's own limit stops reading.
      const chunked = new ReadableStream({
        start(c) {
          for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(64 * 1024));
          c.close();
        },
      });
      const rc = await fetch(rx.http + '/v1/traces', { method: 'POST', headers: PB, body: chunked, duplex: 'half' } as RequestInit);
      expect(rc.status).toBe(413);
      expect(decodeStatus(Buffer.from(await rc.arrayBuffer())).message).toMatch(/exceeds the limit of 262144 bytes/);
      const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024)); // 50 MiB of zeros, ~50 KB gzipped
      expect(bomb.length).toBeLessThan(256 * 1024);
      const b = await post(rx.http, '/v1/traces', bomb, { ...PB, 'content-encoding': 'gzip' });
      expect(b.status).toBe(413);
      expect(decodeStatus(b.bytes).message).toMatch(/decompressed body exceeds/);
    });

    test('unknown content type -> 415 naming the supported ones', async () => {
      const r = await post(rx.http, '/v1/traces', 'hello', { 'content-type': 'text/plain' });
      expect(r.status).toBe(415);
      expect(JSON.parse(r.text).message).toMatch(/application\/x-protobuf or application\/json/);
    });

    test('afterwards: still serving, earlier data still there', async () => {
      const r = await post(rx.http, '/v1/traces', encodeTraces(request([oneSpan(30)])), PB);
      expect(r.status).toBe(200);
      expect(rx.store.querySpans({ traceId: '01'.repeat(16) })).toHaveLength(1);
      expect(rx.store.querySpans({ traceId: '1e'.repeat(16) })).toHaveLength(1);
      expect(rx.receiver.health().find((h) => h.component === 'otlp-http')?.status).toBe('ok');
    });
  });
});

describe('load shedding', () => {
  test('memory soft limit: 503 + Retry-After before decoding, then accepts again', async () => {
    let used = 0;
    const rx = await startReceiver(
      (c) => {
        c.grpc.enabled = false;
        c.limits.memorySoftLimitBytes = 1024 * 1024;
        c.limits.retryAfterSeconds = 7;
      },
      { memoryUsedBytes: () => used },
    );
    try {
      used = 2 * 1024 * 1024;
      await new Promise((r) => setTimeout(r, 20)); // the gauge is sampled every 10 ms
      const r = await post(rx.http, '/v1/traces', encodeTraces(request([oneSpan(1)])), PB);
      expect(r.status).toBe(503);
      expect(r.retryAfter).toBe('7');
      const st = decodeStatus(r.bytes);
      expect(st).toMatchObject({ code: 14, retryDelaySeconds: 7 });
      expect(st.message).toMatch(/memory soft limit/);
      // A malformed body is not even looked at while shedding.
      const junk = await post(rx.http, '/v1/traces', 'garbage', JSON_CT);
      expect(junk.status).toBe(503);
      expect(rx.store.stats().spans).toBe(0);
      used = 0;
      await new Promise((r) => setTimeout(r, 20));
      expect((await post(rx.http, '/v1/traces', encodeTraces(request([oneSpan(1)])), PB)).status).toBe(200);
      expect(rx.store.stats().spans).toBe(1);
    } finally {
      await rx.receiver.stop();
    }
  });

  test('memory soft limit: a request that would not fit first reclaims (forced GC), even with the gauge itself under the limit', async () => {
    // The gauge sits just under the limit, mostly garbage: what a sidecar looks like after an
    // overload. A small request does not fit (its decoded size counts), so the limiter must
    // collect before it refuses, not only once the gauge alone is over.
    const limit = 1024 * 1024;
    const body = encodeTraces(request([oneSpan(1)]));
    let used = limit - body.length; // fits only without the decoded expansion
    let reclaims = 0;
    let reclaimWorks = false;
    const rx = await startReceiver(
      (c) => {
        c.grpc.enabled = false;
        c.limits.memorySoftLimitBytes = limit;
      },
      {
        memoryUsedBytes: () => used,
        reclaimMemory: () => {
          reclaims++;
          if (reclaimWorks) used = limit / 2;
          return reclaimWorks;
        },
      },
    );
    try {
      // A reclaim that could not run (rate-limited) leaves the verdict to the gauge: 503.
      expect((await post(rx.http, '/v1/traces', body, PB)).status).toBe(503);
      expect(reclaims).toBe(1);
      reclaimWorks = true;
      await new Promise((r) => setTimeout(r, 20)); // past the gauge's 10-ms sample
      expect((await post(rx.http, '/v1/traces', body, PB)).status).toBe(200);
      expect(reclaims).toBe(2);
      expect(rx.store.stats().spans).toBe(1);
      // Comfortably under the limit: no collection is forced.
      await new Promise((r) => setTimeout(r, 20));
      expect((await post(rx.http, '/v1/traces', body, PB)).status).toBe(200);
      expect(reclaims).toBe(2);
    } finally {
      await rx.receiver.stop();
    }
  });

  test('in-flight limit: a second request while one is being received gets 429 + Retry-After', async () => {
    const rx = await startReceiver((c) => {
      c.grpc.enabled = false;
      c.limits.maxInflightBytes = 1000;
      c.limits.retryAfterSeconds = 2;
    });
    const body = encodeTraces(request([oneSpan(1)]));
    const url = new URL(rx.http);
    // Start a request that declares 990 bytes and sends only part of them: it holds its reservation.
    const slow = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/v1/traces', headers: { ...PB, 'content-length': '990' } });
    slow.on('error', () => {});
    slow.write(Buffer.alloc(10));
    try {
      await new Promise((r) => setTimeout(r, 100));
      const r = await post(rx.http, '/v1/traces', body, PB);
      expect(r.status).toBe(429);
      expect(r.retryAfter).toBe('2');
      expect(decodeStatus(r.bytes)).toMatchObject({ code: 8, retryDelaySeconds: 2 });
      slow.destroy();
      await new Promise((r) => setTimeout(r, 100));
      // The abandoned request released its reservation.
      expect((await post(rx.http, '/v1/traces', body, PB)).status).toBe(200);
    } finally {
      slow.destroy();
      await rx.receiver.stop();
    }
  });

  test('sink answering retryable -> 503 with its Retry-After; permanent -> 400', async () => {
    let mode: 'retry' | 'permanent' = 'retry';
    const rx = await startReceiver((c) => (c.grpc.enabled = false), {
      sink: (store) => ({
        consumeSpans: (spans) => (mode === 'retry' ? { ok: false, retryable: true, retryAfterSeconds: 3, message: 'store busy' } : { ok: false, retryable: false, message: 'not wanted' }),
        consumeMetrics: (p) => store.consumeMetrics(p),
      }),
    });
    try {
      const r = await post(rx.http, '/v1/traces', JSON.stringify(toOtlpJson(request([oneSpan(1)]))), JSON_CT);
      expect(r.status).toBe(503);
      expect(r.retryAfter).toBe('3');
      expect(JSON.parse(r.text)).toMatchObject({ code: 14, message: 'store busy' });
      mode = 'permanent';
      const p = await post(rx.http, '/v1/traces', encodeTraces(request([oneSpan(1)])), PB);
      expect(p.status).toBe(400);
      expect(decodeStatus(p.bytes).message).toBe('not wanted');
    } finally {
      await rx.receiver.stop();
    }
  });
});

test('self-metrics count accepted, rejected and requests by outcome', async () => {
  const metrics = new SelfMetrics({ defaultMetrics: false });
  const rx = await startReceiver((c) => (c.grpc.enabled = false), { metrics });
  try {
    await post(rx.http, '/v1/traces', encodeTraces(request([oneSpan(1), oneSpan(2), oneSpan(3, { name: '' })])), PB);
    await post(rx.http, '/v1/traces', 'nope', JSON_CT);
    const text = await metrics.registry.metrics();
    expect(text).toContain('faultline_received_items_total{signal="traces",receiver="otlp-http"} 2');
    expect(text).toContain('faultline_rejected_items_total{signal="traces",receiver="otlp-http",reason="malformed"} 2');
    expect(text).toContain('faultline_receiver_requests_total{receiver="otlp-http",signal="traces",code="200"} 1');
    expect(text).toContain('faultline_receiver_requests_total{receiver="otlp-http",signal="traces",code="400"} 1');
  } finally {
    await rx.receiver.stop();
  }
});
