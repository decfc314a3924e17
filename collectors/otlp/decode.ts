// The OTLP decoders' public face: one call per signal and encoding. Both encodings share
// the validation and mapping in mapping.ts, so they accept, reject and name things alike.

import type { MetricPoint, Span } from '../../model/telemetry';
import { decodeMetricsJson, decodeTracesJson, countLogRecordsJson } from './decode-json';
import { decodeMetricsProtobuf, decodeTracesProtobuf, countLogRecordsProtobuf } from './decode-protobuf';
import { type DecodeResult, OtlpDecodeError } from './mapping';

export { OtlpDecodeError } from './mapping';
export type { DecodeResult } from './mapping';

export type OtlpEncoding = 'protobuf' | 'json';

function asBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

/**
 * Decode an ExportTraceServiceRequest into spans. Throws OtlpDecodeError when the request is
 * malformed as a whole; individually invalid spans are left out and counted in `rejected`.
 */
export function decodeTraces(body: Uint8Array | string, encoding: OtlpEncoding): DecodeResult<Span> {
  return encoding === 'protobuf' ? decodeTracesProtobuf(asBytes(body)) : decodeTracesJson(body);
}

/** Decode an ExportMetricsServiceRequest into metric points (same error contract as decodeTraces). */
export function decodeMetrics(body: Uint8Array | string, encoding: OtlpEncoding): DecodeResult<MetricPoint> {
  return encoding === 'protobuf' ? decodeMetricsProtobuf(asBytes(body)) : decodeMetricsJson(body);
}

/** Logs are not kept; this validates an ExportLogsServiceRequest and returns how many records it had. */
export function countLogRecords(body: Uint8Array | string, encoding: OtlpEncoding): number {
  return encoding === 'protobuf' ? countLogRecordsProtobuf(asBytes(body)) : countLogRecordsJson(body);
}

/** True for errors that mean "the request is malformed" (answered 400 / INVALID_ARGUMENT). */
export function isDecodeError(e: unknown): e is OtlpDecodeError {
  return e instanceof OtlpDecodeError;
}

export type { DecodeResult as OtlpDecodeResult };
