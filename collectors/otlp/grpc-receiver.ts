// OTLP/gRPC receiver (@grpc/grpc-js) with a hand-written service definition, so no .proto
// files are needed: the request deserializer is where a message first exists as bytes, so
// it runs admission (memory / in-flight limits) before anything is decoded; the handler
// decodes with our decoder and answers. gzip from clients is handled by grpc-js.
//
// Status codes: INVALID_ARGUMENT for a malformed request, RESOURCE_EXHAUSTED (in-flight limit)
// or UNAVAILABLE (memory limit, sink refusing) with a google.rpc.RetryInfo detail when shedding.

import * as grpc from '@grpc/grpc-js';
import type { IngestCore, IngestOutcome, OtlpSignal } from './ingest';
import { RpcCode, exportResponseProtobuf, statusProtobuf } from './responses';

export interface OtlpGrpcOptions {
  host: string;
  port: number;
  /** Largest message accepted (grpc.max_receive_message_length). */
  maxMessageBytes: number;
}

const SERVICES: Array<{ signal: OtlpSignal; path: string }> = [
  { signal: 'traces', path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export' },
  { signal: 'metrics', path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export' },
  { signal: 'logs', path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export' },
];

/** What the deserializer hands the handler: the bytes, admitted or with the reason they were not. */
interface Prepared {
  bytes: Buffer;
  shed?: Extract<IngestOutcome, { kind: 'shed' }>;
}

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k]));

function errorFor(code: number, message: string, retryAfterSeconds?: number): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  // Rich status (google.rpc.Status with RetryInfo) as the OTLP/gRPC spec asks for throttling.
  metadata.set('grpc-status-details-bin', statusProtobuf(code, message, retryAfterSeconds));
  return Object.assign(new Error(message), { code, details: message, metadata }) as grpc.ServiceError;
}

export function buildOtlpGrpcServer(core: IngestCore, opts: OtlpGrpcOptions): grpc.Server {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  for (const { signal, path } of SERVICES) {
    const definition: grpc.ServiceDefinition = {
      Export: {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (bytes: Buffer): Prepared => {
          const verdict = core.admit(bytes.length);
          return 'ok' in verdict ? { bytes } : { bytes, shed: verdict };
        },
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    };
    const handler: grpc.handleUnaryCall<Prepared, Buffer> = (call, callback) => {
      const req = call.request;
      const finish = (code: number, err: grpc.ServiceError | null, response?: Buffer) => {
        core.countRequest('otlp-grpc', signal, CODE_NAMES[code] ?? String(code));
        callback(err, response);
      };
      if (req.shed) {
        core.countRefused('otlp-grpc', signal, 'overload');
        const code = req.shed.reason === 'inflight' ? RpcCode.RESOURCE_EXHAUSTED : RpcCode.UNAVAILABLE;
        finish(code, errorFor(code, req.shed.message, req.shed.retryAfterSeconds));
        return;
      }
      let outcome: IngestOutcome;
      try {
        outcome = core.ingest(signal, 'otlp-grpc', 'protobuf', req.bytes, { body: req.bytes, contentType: 'application/x-protobuf' });
      } finally {
        core.release(req.bytes.length);
      }
      switch (outcome.kind) {
        case 'ok':
          finish(RpcCode.OK, null, exportResponseProtobuf(outcome.rejected, outcome.rejectionMessage));
          return;
        case 'malformed':
        case 'refused':
          finish(RpcCode.INVALID_ARGUMENT, errorFor(RpcCode.INVALID_ARGUMENT, outcome.message));
          return;
        case 'shed': {
          const code = outcome.reason === 'inflight' ? RpcCode.RESOURCE_EXHAUSTED : RpcCode.UNAVAILABLE;
          finish(code, errorFor(code, outcome.message, outcome.retryAfterSeconds));
          return;
        }
      }
    };
    server.addService(definition, { Export: handler as grpc.UntypedHandleCall });
  }
  return server;
}

/** Bind and resolve with the bound port (port 0 picks a free one). */
export function bindGrpc(server: grpc.Server, host: string, port: number): Promise<number> {
  const addr = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

export function shutdownGrpc(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
