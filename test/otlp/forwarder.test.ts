// The forwarder against real upstreams on loopback: a second faultline receiver, and a small
// fastify server that records bytes and can answer 503/400 or be down. Forwarding must pass
// the bytes on unchanged, retry what is retryable, bound its queue, and only ever degrade
// itself: the receiver keeps answering 200 and storing.

import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyInstance } from 'fastify';
import { SelfMetrics } from '../../agent/self-metrics';
import { encodeTraces, randomTraceRequest } from './oracle';
import { type Running, startReceiver } from './helpers';

const PB = { 'content-type': 'application/x-protobuf' };
const span = (id: number) => ({ traceId: Buffer.alloc(16, id), spanId: Buffer.alloc(8, id), name: 'op', startTimeUnixNano: '1763900000000000000', endTimeUnixNano: '1763900000000000500' });
const req = (id: number) => encodeTraces({ resourceSpans: [{ scopeSpans: [{ spans: [span(id)] }] }] });

interface Recorded {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** An upstream whose answers a test scripts: a list of statuses to use in turn, then 200. */
async function scriptedUpstream(script: number[] = []): Promise<{ app: FastifyInstance; url: string; got: Recorded[] }> {
  const got: Recorded[] = [];
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_r, body, done) => done(null, body));
  app.post('/v1/:signal', async (request, reply) => {
    const status = script.shift() ?? 200;
    got.push({ path: request.url, headers: request.headers, body: request.body as Buffer });
    if (status === 503) reply.header('retry-after', '0');
    return reply.code(status).type('application/x-protobuf').send(Buffer.alloc(0));
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, got };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const forwarderHealth = (rx: Running) => rx.receiver.health().find((h) => h.component === 'forwarder')!;

async function post(base: string, body: Buffer, headers: Record<string, string>, path = '/v1/traces') {
  const res = await fetch(base + path, { method: 'POST', headers, body });
  await res.arrayBuffer();
  return res.status;
}

async function droppedCount(metrics: SelfMetrics, reason: string): Promise<number> {
  const m = await metrics.dropped.get();
  return m.values.filter((v) => v.labels.reason === reason).reduce((a, v) => a + v.value, 0);
}

test('forwards to a second receiver: the upstream store gets the same spans', async () => {
  const upstream = await startReceiver((c) => (c.grpc.enabled = false));
  const rx = await startReceiver((c) => {
    c.forward = { endpoint: upstream.http, timeoutMs: 2000, maxQueueBytes: 1 << 20 };
  });
  try {
    const bytes = encodeTraces(randomTraceRequest(11, { invalid: false }));
    expect(await post(rx.http, bytes, PB)).toBe(200);
    const n = rx.store.stats().spans;
    expect(n).toBeGreaterThan(0);
    await until(() => upstream.store.stats().spans === n);
    expect(upstream.store.querySpans({})).toEqual(rx.store.querySpans({}));
    expect(forwarderHealth(rx).status).toBe('ok');
  } finally {
    await rx.receiver.stop();
    await upstream.receiver.stop();
  }
});

test('passes bytes on unchanged (gzip and headers too), gRPC-received data as protobuf', async () => {
  const up = await scriptedUpstream();
  const rx = await startReceiver((c) => {
    c.forward = { endpoint: up.url + '/', headers: { authorization: 'Bearer t0k' }, timeoutMs: 2000, maxQueueBytes: 1 << 20 };
  });
  try {
    const gz = zlib.gzipSync(req(1));
    expect(await post(rx.http, gz, { ...PB, 'content-encoding': 'gzip' })).toBe(200);
    const json = JSON.stringify({ resourceMetrics: [] });
    expect(await post(rx.http, Buffer.from(json), { 'content-type': 'application/json' }, '/v1/metrics')).toBe(200);
    await until(() => up.got.length === 2);
    const t = up.got.find((g) => g.path === '/v1/traces')!;
    expect(t.body.equals(gz)).toBe(true);
    expect(t.headers['content-encoding']).toBe('gzip');
    expect(t.headers['content-type']).toBe('application/x-protobuf');
    expect(t.headers.authorization).toBe('Bearer t0k');
    const m = up.got.find((g) => g.path === '/v1/metrics')!;
    expect(m.body.toString()).toBe(json);
    // Malformed requests are not forwarded.
    expect(await post(rx.http, Buffer.from('{"resourceSpans":5}'), { 'content-type': 'application/json' })).toBe(400);
    await new Promise((r) => setTimeout(r, 100));
    expect(up.got).toHaveLength(2);
    // gRPC in, OTLP/HTTP protobuf out, same message bytes.
    const client = new grpc.Client(rx.grpc, grpc.credentials.createInsecure());
    const bytes = req(9);
    const err = await new Promise((resolve) =>
      client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (b: Buffer) => b, (b: Buffer) => b, bytes, (e) => resolve(e)),
    );
    client.close();
    expect(err).toBeNull();
    await until(() => up.got.length === 3);
    expect(up.got[2].body.equals(bytes)).toBe(true);
    expect(up.got[2].headers['content-type']).toBe('application/x-protobuf');
    expect(up.got[2].headers['content-encoding']).toBeUndefined();
  } finally {
    await rx.receiver.stop();
    await up.app.close();
  }
});

/** An HTTP-only receiver forwarding to `forward.endpoint`, with its own metrics registry. */
async function startForwardingReceiver(forward: { endpoint: string; timeoutMs: number; maxQueueBytes: number }) {
  const metrics = new SelfMetrics({ defaultMetrics: false });
  const rx = await startReceiver(
    (c) => {
      c.grpc.enabled = false;
      c.forward = forward;
    },
    { metrics },
  );
  return { rx, metrics };
}

test('retries 503 with backoff until delivered; degraded meanwhile, ok after', async () => {
  const up = await scriptedUpstream([503, 503]);
  const { rx, metrics } = await startForwardingReceiver({ endpoint: up.url, timeoutMs: 2000, maxQueueBytes: 1 << 20 });
  try {
    expect(await post(rx.http, req(2), PB)).toBe(200);
    await until(() => up.got.length >= 1);
    await until(() => forwarderHealth(rx).status === 'degraded');
    expect(forwarderHealth(rx).message).toMatch(/answered 503; retrying/);
    await until(() => up.got.length === 3);
    await until(() => forwarderHealth(rx).status === 'ok');
    expect(up.got.every((g) => g.body.equals(req(2)))).toBe(true);
    expect(await droppedCount(metrics, 'queue_full')).toBe(0);
  } finally {
    await rx.receiver.stop();
    await up.app.close();
  }
});

test('upstream down: queue bounded, overflow counted as dropped, receiver unaffected', async () => {
  const up = await scriptedUpstream();
  const deadUrl = up.url;
  await up.app.close(); // nothing listens there now
  const one = req(3).length;
  const { rx, metrics } = await startForwardingReceiver({ endpoint: deadUrl, timeoutMs: 500, maxQueueBytes: one * 3 });
  try {
    for (let i = 0; i < 10; i++) expect(await post(rx.http, req(3), PB)).toBe(200);
    expect(rx.store.stats().spans).toBe(10);
    expect(await droppedCount(metrics, 'queue_full')).toBeGreaterThanOrEqual(6);
    await until(() => forwarderHealth(rx).status === 'degraded');
    expect(forwarderHealth(rx).message).toMatch(/unreachable|queue full/);
    expect(rx.receiver.health().find((h) => h.component === 'otlp-http')?.status).toBe('ok');
  } finally {
    await rx.receiver.stop();
  }
});

test('upstream 400 is not retried: dropped as upstream_rejected', async () => {
  const up = await scriptedUpstream([400]);
  const { rx, metrics } = await startForwardingReceiver({ endpoint: up.url, timeoutMs: 2000, maxQueueBytes: 1 << 20 });
  try {
    expect(await post(rx.http, req(4), PB)).toBe(200);
    await until(() => forwarderHealth(rx).status === 'degraded');
    expect(await droppedCount(metrics, 'upstream_rejected')).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(up.got).toHaveLength(1);
  } finally {
    await rx.receiver.stop();
    await up.app.close();
  }
});
