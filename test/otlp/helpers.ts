// Shared test plumbing: a receiver on ephemeral loopback ports over a real TelemetryStore,
// and a decoder for google.rpc.Status bodies (to read what the receiver answered).

import { Reader } from 'protobufjs/minimal';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import { type OtlpReceiver, type OtlpReceiverConfig, createOtlpReceiver, defaultOtlpReceiverConfig } from '../../collectors/otlp';
import type { TelemetrySink } from '../../model/sink';
import type { SelfMetrics } from '../../agent/self-metrics';

export interface Running {
  receiver: OtlpReceiver;
  store: TelemetryStore;
  http: string;
  grpc: string;
  logs: string[];
}

export async function startReceiver(
  patch: (c: OtlpReceiverConfig) => void = () => {},
  opts: { sink?: (store: TelemetryStore) => TelemetrySink; memoryUsedBytes?: () => number; reclaimMemory?: () => boolean; metrics?: SelfMetrics } = {},
): Promise<Running> {
  const config = defaultOtlpReceiverConfig();
  config.http.port = 0;
  config.grpc.port = 0;
  patch(config);
  const store = new TelemetryStore();
  const logs: string[] = [];
  const receiver = createOtlpReceiver(config, opts.sink ? opts.sink(store) : store, { memoryUsedBytes: opts.memoryUsedBytes, reclaimMemory: opts.reclaimMemory, metrics: opts.metrics, log: (m) => logs.push(m) });
  await receiver.start();
  const a = receiver.addresses();
  return { receiver, store, http: a.http ?? '', grpc: a.grpc ?? '', logs };
}

export function decodeStatus(buf: Uint8Array): { code: number; message: string; retryDelaySeconds?: number } {
  const r = Reader.create(Buffer.from(buf));
  const out: { code: number; message: string; retryDelaySeconds?: number } = { code: 0, message: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const f = tag >>> 3;
    if (f === 1) out.code = r.int32();
    else if (f === 2) out.message = r.string();
    else if (f === 3) {
      // Any { type_url = 1; value = 2 } holding RetryInfo { retry_delay = 1 { seconds = 1 } }
      const any = Reader.create(Buffer.from(r.bytes()));
      let type = '';
      let value: Uint8Array = new Uint8Array();
      while (any.pos < any.len) {
        const t = any.uint32();
        if (t >>> 3 === 1) type = any.string();
        else if (t >>> 3 === 2) value = any.bytes();
        else any.skipType(t & 7);
      }
      if (type.endsWith('google.rpc.RetryInfo')) {
        const ri = Reader.create(Buffer.from(value));
        ri.uint32();
        const d = Reader.create(Buffer.from(ri.bytes()));
        d.uint32();
        out.retryDelaySeconds = Number(d.int64());
      }
    } else r.skipType(tag & 7);
  }
  return out;
}
