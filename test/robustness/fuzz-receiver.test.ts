// Fuzz a running OTLP receiver over loopback: thousands of malformed requests to every
// OTLP/HTTP endpoint (bad protobuf, bad JSON, bad gzip, gzip bombs, oversize bodies, wrong
// content types and methods) and to the gRPC services, with well-formed requests carrying
// known ids sent in between. Every request must be answered in time, with a 4xx in the
// request's format naming what is wrong (or 200 where the body legitimately decodes), the
// receiver must keep serving, and every well-formed span must be in the store afterwards.

import * as grpc from '@grpc/grpc-js';
import * as zlib from 'node:zlib';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import { type OtlpReceiver, createOtlpReceiver, defaultOtlpReceiverConfig } from '../../collectors/otlp';
import { encodeTraces, rng, toOtlpJson } from '../otlp/oracle';
import { decodeStatus } from '../otlp/helpers';
import { GZIP_MUTATIONS, JSON_MUTATIONS, PROTOBUF_MUTATIONS, type Signal, badGzip, mutateJson, mutateProtobuf, validProtobuf } from './malformed';

const MAX_BODY = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;
const HTTP_CASES = 2400;
const GRPC_CASES = 600;
const PARALLEL = 8;

const GRPC_PATHS: Record<Signal | 'logs', string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

let receiver: OtlpReceiver;
let store: TelemetryStore;
let httpBase: string;
let grpcAddr: string;
let client: grpc.Client;

beforeAll(async () => {
  const config = defaultOtlpReceiverConfig();
  config.http.port = 0;
  config.grpc.port = 0;
  config.http.maxBodyBytes = MAX_BODY;
  config.grpc.maxMessageBytes = MAX_BODY;
  // A store as the sidecar has it (default window and budget): what is kept is the point.
  store = new TelemetryStore();
  receiver = createOtlpReceiver(config, store);
  await receiver.start();
  httpBase = receiver.addresses().http!;
  grpcAddr = receiver.addresses().grpc!;
  client = new grpc.Client(grpcAddr, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await receiver?.stop();
});

// ---- well-formed traffic with known ids ---------------------------------------------

const sentSpanIds = new Set<string>();
let wellFormedSeq = 0;

/** A valid request with fresh, unique ids and current timestamps; remembers the span ids. */
function wellFormed(): { pb: Buffer; ids: string[] } {
  const n = ++wellFormedSeq;
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: 5 }, (_, i) => {
    const traceId = Buffer.alloc(16);
    traceId.writeUInt32BE(0xfeed0000 + n, 0);
    const spanId = Buffer.alloc(8);
    spanId.writeUInt32BE(n, 0);
    spanId.writeUInt32BE(i + 1, 4);
    return { traceId, spanId, name: `good-${i}`, kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n) };
  });
  const pb = encodeTraces({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fuzz-good' } }] }, scopeSpans: [{ spans }] }] });
  return { pb, ids: spans.map((s) => s.spanId.toString('hex')) };
}

// ---- one HTTP exchange --------------------------------------------------------------

interface Answer {
  status: number;
  type: string;
  retryAfter: string | null;
  body: Buffer;
}

async function post(path: string, body: Buffer | string, headers: Record<string, string>, method = 'POST'): Promise<Answer> {
  const res = await fetch(httpBase + path, { method, headers, body: method === 'GET' ? undefined : body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', retryAfter: res.headers.get('retry-after'), body: bytes };
}

/** A 4xx must carry a google.rpc.Status in the request's format with a message; a 200 an Export*Response. */
function checkAnswer(a: Answer, sentType: 'protobuf' | 'json' | 'other', label: string): void {
  const fail = (why: string) => {
    throw new Error(`${label}: ${why} (status ${a.status}, type ${a.type}, body ${a.body.subarray(0, 200).toString('utf8')})`);
  };
  if (a.status >= 500) fail('server error');
  if (a.status === 429) fail('shed without load');
  if (a.status === 200) {
    if (sentType === 'json') JSON.parse(a.body.toString('utf8'));
    else if (!a.type.startsWith('application/x-protobuf')) fail('200 to protobuf not in protobuf');
    return;
  }
  if (a.status < 400) fail('unexpected status');
  // Unknown routes, methods and content types get fastify's / the receiver's JSON error.
  if (a.status === 404 || a.status === 405 || sentType === 'other') {
    if (a.body.length === 0) fail('4xx without a body');
    return;
  }
  if (sentType === 'protobuf') {
    if (!a.type.startsWith('application/x-protobuf')) fail('error to protobuf not in protobuf');
    const st = decodeStatus(a.body);
    if (st.code === 0 || st.message.length < 5) fail('protobuf Status without code or message');
  } else {
    const st = JSON.parse(a.body.toString('utf8'));
    if (typeof st.message !== 'string' || st.message.length < 5) fail('JSON Status without a message');
  }
}

type Case = { label: string; path: string; body: Buffer | string; headers: Record<string, string>; kind: 'protobuf' | 'json' | 'other'; method?: string };

function randomCase(seed: number): Case {
  const r = rng(seed);
  const signal: Signal = r.next() < 0.6 ? 'traces' : 'metrics';
  // Mostly the matching endpoint; sometimes the body goes to another signal's endpoint.
  const path = r.next() < 0.8 ? `/v1/${signal}` : r.pick(['/v1/traces', '/v1/metrics', '/v1/logs']);
  const roll = r.next();
  if (roll < 0.45) {
    const kind = r.pick(PROTOBUF_MUTATIONS.filter((k) => k !== 'hugeString'));
    return { label: `pb ${kind} ${signal}->${path} seed ${seed}`, path, body: mutateProtobuf(signal, kind, seed), headers: { 'content-type': 'application/x-protobuf' }, kind: 'protobuf' };
  }
  if (roll < 0.8) {
    const kind = r.pick(JSON_MUTATIONS);
    return { label: `json ${kind} ${signal}->${path} seed ${seed}`, path, body: mutateJson(signal, kind, seed), headers: { 'content-type': 'application/json' }, kind: 'json' };
  }
  if (roll < 0.92) {
    const kind = r.pick(GZIP_MUTATIONS);
    const json = r.next() < 0.3;
    const valid = json ? Buffer.from(JSON.stringify(toOtlpJson({ resourceSpans: [] }))) : validProtobuf(signal, seed);
    return {
      label: `gzip ${kind} ${signal}->${path} seed ${seed}`,
      path,
      body: badGzip(kind, valid, seed, MAX_BODY * 4),
      headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-encoding': r.pick(['gzip', 'gzip', 'deflate', 'br', 'zstd', 'gzip, gzip']) },
      kind: json ? 'json' : 'protobuf',
    };
  }
  // Wrong content types, methods and paths.
  const which = r.int(0, 5);
  const body = validProtobuf(signal, seed);
  if (which === 0) return { label: `no content-type seed ${seed}`, path, body, headers: {}, kind: 'other' };
  if (which === 1) return { label: `text/plain seed ${seed}`, path, body, headers: { 'content-type': 'text/plain' }, kind: 'other' };
  if (which === 2) return { label: `multipart seed ${seed}`, path, body, headers: { 'content-type': 'multipart/form-data; boundary=x' }, kind: 'other' };
  if (which === 3) return { label: `GET seed ${seed}`, path, body, headers: {}, kind: 'other', method: 'GET' };
  if (which === 4) return { label: `PUT seed ${seed}`, path, body, headers: { 'content-type': 'application/x-protobuf' }, kind: 'other', method: 'PUT' };
  return { label: `unknown path seed ${seed}`, path: r.pick(['/v1/spans', '/v2/traces', '/v1/traces/../metrics', '/%ff', '/v1/traces?x=' + 'a'.repeat(2000)]), body, headers: { 'content-type': 'application/x-protobuf' }, kind: 'other' };
}

async function sendCase(c: Case): Promise<number> {
  const a = await post(c.path, c.body, c.headers, c.method);
  checkAnswer(a, c.kind, c.label);
  return a.status;
}

test(`OTLP/HTTP: ${HTTP_CASES} malformed requests to every endpoint, each answered; well-formed data in between all kept`, async () => {
  const statuses = new Map<number, number>();
  const started = Date.now();
  for (let i = 0; i < HTTP_CASES; i += PARALLEL) {
    const batch: Array<Promise<number>> = [];
    for (let j = 0; j < PARALLEL && i + j < HTTP_CASES; j++) batch.push(sendCase(randomCase(90_000 + i + j)));
    // One well-formed request rides along with every batch.
    const good = wellFormed();
    batch.push(
      post('/v1/traces', good.pb, { 'content-type': 'application/x-protobuf' }).then((a) => {
        if (a.status !== 200) throw new Error(`well-formed request refused: ${a.status} ${a.body.toString('utf8')}`);
        good.ids.forEach((id) => sentSpanIds.add(id));
        return -1;
      }),
    );
    for (const s of await Promise.all(batch)) if (s >= 0) statuses.set(s, (statuses.get(s) ?? 0) + 1);
  }
  // Also one oversize body (beyond maxBodyBytes as sent) and one oversize chunked body.
  checkAnswer(await post('/v1/traces', Buffer.alloc(MAX_BODY + 10), { 'content-type': 'application/x-protobuf' }), 'protobuf', 'oversize');
  const bigJson = JSON.stringify({ resourceSpans: [], pad: 'x'.repeat(MAX_BODY) });
  const chunked = new ReadableStream({
    start(ctrl) {
      ctrl.enqueue(new TextEncoder().encode(bigJson));
      ctrl.close();
    },
  });
  const res = await fetch(httpBase + '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: chunked, duplex: 'half', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) } as RequestInit);
  expect(res.status).toBe(413);
  await res.arrayBuffer();

  const summary = Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0]));
  process.stdout.write(`fuzz-receiver http: ${HTTP_CASES} cases in ${Date.now() - started} ms, statuses ${JSON.stringify(summary)}\n`);
  // The mix must really exercise refusals of several kinds.
  expect(statuses.get(400) ?? 0).toBeGreaterThan(HTTP_CASES / 4);
  expect(statuses.get(413) ?? 0).toBeGreaterThan(0);
  expect(statuses.get(415) ?? 0).toBeGreaterThan(0);

  // Every well-formed span is in the store, exactly once.
  const stored = store.querySpans({ service: 'fuzz-good' });
  const storedIds = stored.map((s) => s.spanId);
  expect(new Set(storedIds).size).toBe(storedIds.length);
  expect(storedIds.length).toBe(sentSpanIds.size);
  for (const id of sentSpanIds) expect(storedIds).toContain(id);
}, 120_000);

function grpcCall(path: string, body: Buffer): Promise<{ code: number; details: string; detailsBin?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + REQUEST_TIMEOUT_MS },
      (err) => {
        if (!err) return resolve({ code: 0, details: '' });
        const bin = err.metadata?.get('grpc-status-details-bin')[0];
        resolve({ code: err.code, details: err.details, detailsBin: Buffer.isBuffer(bin) ? bin : undefined });
      },
    );
  });
}

test(`OTLP/gRPC: ${GRPC_CASES} malformed messages, each answered OK or INVALID_ARGUMENT; well-formed data kept`, async () => {
  const before = new Set(store.querySpans({ service: 'fuzz-good' }).map((s) => s.spanId));
  const sentHere: string[] = [];
  const codes = new Map<number, number>();
  for (let i = 0; i < GRPC_CASES; i += PARALLEL) {
    const batch: Array<Promise<void>> = [];
    for (let j = 0; j < PARALLEL && i + j < GRPC_CASES; j++) {
      const seed = 70_000 + i + j;
      const r = rng(seed);
      const signal: Signal = r.next() < 0.6 ? 'traces' : 'metrics';
      const kind = r.pick(PROTOBUF_MUTATIONS.filter((k) => k !== 'hugeString'));
      const target = r.next() < 0.85 ? signal : r.pick(['traces', 'metrics', 'logs'] as const);
      batch.push(
        grpcCall(GRPC_PATHS[target], mutateProtobuf(signal, kind, seed)).then((a) => {
          codes.set(a.code, (codes.get(a.code) ?? 0) + 1);
          if (a.code !== grpc.status.OK && a.code !== grpc.status.INVALID_ARGUMENT && a.code !== grpc.status.RESOURCE_EXHAUSTED) {
            throw new Error(`${kind} seed ${seed}: gRPC code ${a.code} ${a.details}`);
          }
          // RESOURCE_EXHAUSTED only for messages over the size limit, answered by grpc-js itself.
          if (a.code === grpc.status.RESOURCE_EXHAUSTED && !/larger than max|exceed/i.test(a.details)) throw new Error(`${kind} seed ${seed}: shed without load: ${a.details}`);
          if (a.code === grpc.status.INVALID_ARGUMENT) {
            expect(a.details.length).toBeGreaterThan(5);
            expect(a.detailsBin && decodeStatus(a.detailsBin).code).toBe(grpc.status.INVALID_ARGUMENT);
          }
        }),
      );
    }
    const good = wellFormed();
    batch.push(
      grpcCall(GRPC_PATHS.traces, good.pb).then((a) => {
        if (a.code !== 0) throw new Error(`well-formed gRPC request refused: ${a.code} ${a.details}`);
        sentHere.push(...good.ids);
      }),
    );
    await Promise.all(batch);
  }
  // gzip-compressed garbage through grpc-js' own compression path.
  const gzClient = new grpc.Client(grpcAddr, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
  try {
    const e = await new Promise<grpc.ServiceError | null>((resolve) =>
      gzClient.makeUnaryRequest(GRPC_PATHS.traces, (b: Buffer) => b, (b: Buffer) => b, zlib.gzipSync(Buffer.from('junk')), new grpc.Metadata(), { deadline: Date.now() + REQUEST_TIMEOUT_MS }, (err) => resolve(err)),
    );
    expect(e?.code).toBe(grpc.status.INVALID_ARGUMENT);
  } finally {
    gzClient.close();
  }
  process.stdout.write(`fuzz-receiver grpc: ${GRPC_CASES} cases, codes ${JSON.stringify(Object.fromEntries(codes))}\n`);
  expect(codes.get(grpc.status.INVALID_ARGUMENT) ?? 0).toBeGreaterThan(GRPC_CASES / 4);

  const after = new Set(store.querySpans({ service: 'fuzz-good' }).map((s) => s.spanId));
  for (const id of sentHere) expect(after.has(id)).toBe(true);
  expect(after.size).toBe(before.size + sentHere.length);
  // Still serving after all that.
  expect((await post('/v1/traces', wellFormed().pb, { 'content-type': 'application/x-protobuf' })).status).toBe(200);
}, 120_000);
