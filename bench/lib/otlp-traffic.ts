// Cheap, realistic OTLP trace requests for load generation: recommendation-system traces
// (gateway -> recall -> features -> ranker -> model-server), encoded straight to protobuf with
// protobufjs' Writer so the load generator is not the bottleneck (~0.2 ms per 100 spans).

import { Writer } from 'protobufjs/minimal';

const SERVICES = ['gateway', 'recall', 'feature-store', 'ranker', 'model-server'] as const;
const OPERATIONS: Record<(typeof SERVICES)[number], string> = {
  gateway: 'GET /recommend',
  recall: 'recall.candidates',
  'feature-store': 'features.fetch',
  ranker: 'rank',
  'model-server': 'predict',
};

export interface TrafficOptions {
  /** Spans per request; rounded down to whole 5-span traces (at least one). */
  spansPerRequest: number;
  /** Instances per service (service.instance.id), to give the store some cardinality. */
  instances?: number;
  /** Fraction of traces with an error status on the deepest span. */
  errorRate?: number;
}

let seq = 0;

function fixed64Ns(w: Writer, field: number, ms: number): void {
  const ns = BigInt(Math.round(ms * 1000)) * 1000n;
  w.uint32((field << 3) | 1);
  w.fixed32(Number(ns & 0xffffffffn));
  w.fixed32(Number(ns >> 32n));
}

function stringAttr(w: Writer, field: number, key: string, value: string): void {
  w.uint32((field << 3) | 2).fork();
  w.uint32(10).string(key);
  w.uint32(18).fork().uint32(10).string(value).ldelim();
  w.ldelim();
}

function intAttr(w: Writer, field: number, key: string, value: number): void {
  w.uint32((field << 3) | 2).fork();
  w.uint32(10).string(key);
  w.uint32(18).fork().uint32(24).int64(value).ldelim();
  w.ldelim();
}

function idBytes(size: number, a: number, b: number): Buffer {
  const out = Buffer.alloc(size);
  out.writeUInt32BE(a >>> 0, 0);
  out.writeUInt32BE(b >>> 0, size - 4);
  if (size === 16) out.writeUInt32BE((0xfa017000 | (process.pid & 0xfff)) >>> 0, 4);
  return out;
}

/** One ExportTraceServiceRequest with fresh ids and timestamps ending now. Returns bytes and span count. */
export function encodeTraceRequest(opts: TrafficOptions, nowMs = Date.now()): { body: Buffer; spans: number } {
  const traces = Math.max(1, Math.floor(opts.spansPerRequest / SERVICES.length));
  const instances = opts.instances ?? 3;
  const errorRate = opts.errorRate ?? 0.01;
  const w = Writer.create();
  const batch = ++seq;
  for (let s = 0; s < SERVICES.length; s++) {
    const service = SERVICES[s];
    const instance = `${service}-${batch % instances}`;
    w.uint32(10).fork(); // resource_spans
    w.uint32(10).fork(); // resource
    stringAttr(w, 1, 'service.name', service);
    stringAttr(w, 1, 'service.instance.id', instance);
    stringAttr(w, 1, 'host.name', `node-${batch % instances}`);
    w.ldelim();
    w.uint32(18).fork(); // scope_spans
    w.uint32(10).fork().uint32(10).string('faultline-bench').ldelim(); // scope
    for (let t = 0; t < traces; t++) {
      const traceA = batch;
      const traceB = t;
      // Nested timings: each hop starts 0.2 ms after its parent and takes a share of it.
      const total = 20 + ((batch * 7 + t * 13) % 60);
      const start = nowMs - total - 5;
      const startOf = start + s * 0.2;
      const dur = total * (1 - s * 0.18);
      w.uint32(18).fork(); // span
      w.uint32(10).bytes(idBytes(16, traceA, traceB));
      w.uint32(18).bytes(idBytes(8, batch, t * 8 + s + 1));
      if (s > 0) w.uint32(34).bytes(idBytes(8, batch, t * 8 + s));
      w.uint32(42).string(OPERATIONS[service]);
      w.uint32(48).int32(s === 0 ? 2 : 3);
      fixed64Ns(w, 7, startOf);
      fixed64Ns(w, 8, startOf + dur);
      stringAttr(w, 9, 'rpc.system', 'grpc');
      intAttr(w, 9, 'rec.candidates', 100 + (t % 400));
      const error = s === SERVICES.length - 1 && ((batch * 31 + t * 17) % 1000) / 1000 < errorRate;
      w.uint32(122).fork(); // status
      if (error) w.uint32(18).string('deadline exceeded');
      w.uint32(24).int32(error ? 2 : 1);
      w.ldelim();
      w.ldelim();
    }
    w.ldelim(); // scope_spans
    w.ldelim(); // resource_spans
  }
  return { body: Buffer.from(w.finish()), spans: traces * SERVICES.length };
}
