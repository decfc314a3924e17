// OTLP response bodies: Export*ServiceResponse (with partial_success) and google.rpc.Status
// (with RetryInfo when shedding), in protobuf and in OTLP/JSON. Hand-encoded with the
// protobufjs Writer: four tiny messages do not need generated code.

import { Writer } from 'protobufjs/minimal';
import type { OtlpSignal } from './ingest';

/** gRPC status codes used in google.rpc.Status.code and on the gRPC transport. */
export const RpcCode = { OK: 0, INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14 } as const;

const REJECTED_FIELD: Record<OtlpSignal, string> = { traces: 'rejectedSpans', metrics: 'rejectedDataPoints', logs: 'rejectedLogRecords' };

/** ExportTrace/Metrics/LogsServiceResponse; empty (all accepted) unless something was rejected. */
export function exportResponseProtobuf(rejected: number, errorMessage?: string): Buffer {
  if (rejected === 0 && !errorMessage) return Buffer.alloc(0);
  const w = Writer.create();
  w.uint32(10).fork(); // partial_success = 1
  if (rejected > 0) w.uint32(8).int64(rejected); // rejected_* = 1
  if (errorMessage) w.uint32(18).string(errorMessage); // error_message = 2
  w.ldelim();
  return Buffer.from(w.finish());
}

export function exportResponseJson(signal: OtlpSignal, rejected: number, errorMessage?: string): string {
  if (rejected === 0 && !errorMessage) return '{}';
  // int64 as a decimal string, as the protobuf JSON mapping writes it.
  return JSON.stringify({ partialSuccess: { [REJECTED_FIELD[signal]]: String(rejected), errorMessage: errorMessage ?? '' } });
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** google.rpc.RetryInfo { retry_delay: Duration { seconds } } */
function retryInfo(seconds: number): Uint8Array {
  const w = Writer.create();
  w.uint32(10).fork();
  w.uint32(8).int64(Math.floor(seconds));
  const nanos = Math.round((seconds - Math.floor(seconds)) * 1e9);
  if (nanos) w.uint32(16).int32(nanos);
  w.ldelim();
  return w.finish();
}

/** google.rpc.Status, optionally with a RetryInfo detail. */
export function statusProtobuf(code: number, message: string, retryAfterSeconds?: number): Buffer {
  const w = Writer.create();
  if (code) w.uint32(8).int32(code);
  if (message) w.uint32(18).string(message);
  if (retryAfterSeconds !== undefined) {
    w.uint32(26).fork(); // details: Any
    w.uint32(10).string(RETRY_INFO_TYPE);
    w.uint32(18).bytes(retryInfo(retryAfterSeconds));
    w.ldelim();
  }
  return Buffer.from(w.finish());
}

export function statusJson(code: number, message: string, retryAfterSeconds?: number): string {
  const body: Record<string, unknown> = { code, message };
  if (retryAfterSeconds !== undefined) body.details = [{ '@type': RETRY_INFO_TYPE, retryDelay: `${retryAfterSeconds}s` }];
  return JSON.stringify(body);
}
