// OTLP/gRPC receiver with a raw grpc-js client: status codes for malformed requests and
// shedding (with google.rpc.RetryInfo in grpc-status-details-bin), partial success,
// message size limit, logs accepted.

import * as grpc from '@grpc/grpc-js';
import { TraceResponse, encodeTraces } from './oracle';
import { type Running, decodeStatus, startReceiver } from './helpers';

const TRACE_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

function call(client: grpc.Client, path: string, body: Buffer): Promise<{ err: grpc.ServiceError | null; res?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err, res) => resolve({ err, res }),
    );
  });
}

const span = (id: number, extra: object = {}) => ({ traceId: Buffer.alloc(16, id), spanId: Buffer.alloc(8, id), name: 'op', startTimeUnixNano: '1763900000000000000', endTimeUnixNano: '1763900000000000500', ...extra });
const req = (spans: object[]) => encodeTraces({ resourceSpans: [{ scopeSpans: [{ spans }] }] });

describe('OTLP/gRPC receiver', () => {
  let rx: Running;
  let client: grpc.Client;
  let used = 0;
  beforeAll(async () => {
    rx = await startReceiver(
      (c) => {
        c.http.enabled = false;
        c.grpc.maxMessageBytes = 64 * 1024;
        c.limits.memorySoftLimitBytes = 1024 * 1024;
        c.limits.retryAfterSeconds = 4;
      },
      { memoryUsedBytes: () => used },
    );
    client = new grpc.Client(rx.grpc, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await rx?.receiver.stop();
  });

  test('accepts, answers an empty ExportTraceServiceResponse, stores', async () => {
    const { err, res } = await call(client, TRACE_PATH, req([span(1)]));
    expect(err).toBeNull();
    expect(res!.length).toBe(0);
    expect(rx.store.querySpans({ traceId: '01'.repeat(16) })).toHaveLength(1);
    expect(rx.receiver.health().find((h) => h.component === 'otlp-grpc')?.status).toBe('ok');
  });

  test('partial success in the response', async () => {
    const { err, res } = await call(client, TRACE_PATH, req([span(2), span(3, { spanId: Buffer.alloc(0) })]));
    expect(err).toBeNull();
    const r = TraceResponse.toObject(TraceResponse.decode(res!), { longs: Number });
    expect(r.partialSuccess).toEqual({ rejectedSpans: 1, errorMessage: 'resourceSpans[0].scopeSpans[0].spans[1].spanId: expected 8 bytes, got 0' });
  });

  test('malformed -> INVALID_ARGUMENT naming the problem', async () => {
    const bytes = req([span(4)]);
    const { err } = await call(client, TRACE_PATH, bytes.subarray(0, bytes.length - 3));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/^resourceSpans\[0\].*truncated/);
  });

  test('over the message size limit -> RESOURCE_EXHAUSTED from grpc-js', async () => {
    const { err } = await call(client, TRACE_PATH, Buffer.alloc(100 * 1024));
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  test('memory soft limit -> UNAVAILABLE with RetryInfo, then recovers', async () => {
    used = 10 * 1024 * 1024;
    await new Promise((r) => setTimeout(r, 20)); // the gauge is sampled every 10 ms
    try {
      const { err } = await call(client, TRACE_PATH, req([span(5)]));
      expect(err?.code).toBe(grpc.status.UNAVAILABLE);
      expect(err?.details).toMatch(/memory soft limit/);
      const details = err?.metadata.get('grpc-status-details-bin')[0] as Buffer;
      expect(decodeStatus(details)).toMatchObject({ code: 14, retryDelaySeconds: 4 });
    } finally {
      used = 0;
    }
    await new Promise((r) => setTimeout(r, 20));
    expect((await call(client, TRACE_PATH, req([span(5)]))).err).toBeNull();
    expect(rx.store.querySpans({ traceId: '05'.repeat(16) })).toHaveLength(1);
  });

  test('logs accepted (not kept)', async () => {
    const { err } = await call(client, LOGS_PATH, Buffer.alloc(0));
    expect(err).toBeNull();
  });
});
