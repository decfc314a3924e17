// What the HTTP and gRPC receivers share once a request's bytes are in hand: load
// shedding (memory / in-flight limits, checked before anything is decoded), decoding,
// handing items to the sink, passing the bytes on to the forwarder, and self-metrics.
// The transports only translate the outcome into their status codes and bodies.

import type { TelemetrySink } from '../../model/sink';
import type { SelfMetrics } from '../../agent/self-metrics';
import { type OtlpEncoding, OtlpDecodeError, countLogRecords, decodeMetrics, decodeTraces } from './decode';
import type { OtlpForwarder } from './forwarder';

/** How long a reading of the memory gauge is reused. */
export const MEMORY_SAMPLE_MS = 10;

/**
 * What a request's bytes cost once decoded, until the store has them as columns: span
 * objects with their attribute maps take about 4-8x their protobuf bytes. The memory check
 * counts bytes in flight at this rate, so what is admitted fits under the soft limit.
 */
export const DECODED_EXPANSION = 4;

export type OtlpSignal = 'traces' | 'metrics' | 'logs';
export type ReceiverName = 'otlp-http' | 'otlp-grpc';

export interface IngestLimits {
  /** Shed load (503 / UNAVAILABLE) while memoryUsedBytes() + DECODED_EXPANSION x in-flight bytes exceeds this. */
  memorySoftLimitBytes: number;
  /** Shed load (429 / RESOURCE_EXHAUSTED) while request bytes being processed exceed this. */
  maxInflightBytes: number;
  /** What Retry-After / RetryInfo tells senders when we shed. */
  retryAfterSeconds: number;
}

export type IngestOutcome =
  | { kind: 'ok'; accepted: number; rejected: number; rejectionMessage?: string }
  | { kind: 'malformed'; message: string }
  | { kind: 'shed'; reason: 'memory' | 'inflight' | 'sink'; retryAfterSeconds: number; message: string }
  | { kind: 'refused'; message: string };

/** Bytes as they came in, for the forwarder (which passes them on unchanged). */
export interface RawRequest {
  body: Buffer;
  contentType: string;
  contentEncoding?: string;
}

export class IngestCore {
  private inflight = 0;
  private memorySample = 0;
  private memorySampledAt = -Infinity;

  constructor(
    private readonly sink: TelemetrySink,
    private readonly limits: IngestLimits,
    private readonly deps: {
      metrics?: SelfMetrics;
      memoryUsedBytes?: () => number;
      /** Try to give memory back (a forced GC); true if it ran, so the gauge is worth reading again. */
      reclaimMemory?: () => boolean;
      forwarder?: OtlpForwarder;
    } = {},
  ) {}

  inflightBytes(): number {
    return this.inflight;
  }

  /**
   * Admission before reading/decoding: reserve `bytes` of in-flight budget or say why not.
   * A lone request is always admitted by the in-flight rule, so one larger than the limit
   * cannot be refused forever.
   */
  admit(bytes: number): { ok: true } | Extract<IngestOutcome, { kind: 'shed' }> {
    const fits = (used: number) => used + DECODED_EXPANSION * (this.inflight + bytes) <= this.limits.memorySoftLimitBytes;
    let used = this.memoryUsed();
    // Much of what the gauge counts may be garbage. Reclaim before refusing whenever the
    // request would not fit, not only once the gauge alone is over the limit: a sidecar
    // idling just under the limit would otherwise refuse small requests until V8 happens to
    // collect on its own.
    if (!fits(used) && this.deps.reclaimMemory?.()) used = this.memoryUsed(true);
    if (!fits(used)) {
      return {
        kind: 'shed',
        reason: 'memory',
        retryAfterSeconds: this.limits.retryAfterSeconds,
        message: `memory soft limit reached (${mib(used + this.inflight)} MiB held or in flight, limit ${mib(this.limits.memorySoftLimitBytes)} MiB); retry later`,
      };
    }
    if (this.inflight > 0 && this.inflight + bytes > this.limits.maxInflightBytes) {
      return {
        kind: 'shed',
        reason: 'inflight',
        retryAfterSeconds: this.limits.retryAfterSeconds,
        message: `too much data in flight (${mib(this.inflight)} MiB, limit ${mib(this.limits.maxInflightBytes)} MiB); retry later`,
      };
    }
    this.inflight += bytes;
    return { ok: true };
  }

  /**
   * The memory gauge, sampled at most every MEMORY_SAMPLE_MS: process.memoryUsage() costs
   * ~10 µs (it reads /proc for RSS), too much to pay on every small request.
   */
  private memoryUsed(fresh = false): number {
    if (!this.deps.memoryUsedBytes) return 0;
    const now = performance.now();
    if (!fresh && now - this.memorySampledAt < MEMORY_SAMPLE_MS) return this.memorySample;
    let n = 0;
    try {
      n = this.deps.memoryUsedBytes();
      if (!Number.isFinite(n)) n = 0;
    } catch {
      n = 0; // a broken gauge must not stop ingestion
    }
    this.memorySample = n;
    this.memorySampledAt = now;
    return n;
  }

  /** Grow a reservation without refusing (e.g. a body turned out larger after gunzip). */
  grow(bytes: number): void {
    this.inflight += bytes;
  }

  release(bytes: number): void {
    this.inflight = Math.max(0, this.inflight - bytes);
  }

  /** Decode, store and forward one admitted request. Never throws. */
  ingest(signal: OtlpSignal, receiver: ReceiverName, encoding: OtlpEncoding, body: Uint8Array, raw?: RawRequest): IngestOutcome {
    const m = this.deps.metrics;
    let outcome: IngestOutcome;
    try {
      if (signal === 'logs') {
        // Logs are accepted and not kept (faultline diagnoses from traces and metrics); they
        // are still checked for well-formedness and passed on to the forwarder.
        countLogRecords(body, encoding);
        outcome = { kind: 'ok', accepted: 0, rejected: 0 };
      } else {
        const decoded = signal === 'traces' ? decodeTraces(body, encoding) : decodeMetrics(body, encoding);
        if (decoded.rejected > 0) m?.rejected.inc({ signal, receiver, reason: 'malformed' }, decoded.rejected);
        outcome = this.consume(signal, receiver, decoded.items, decoded.rejected, decoded.rejectionMessage);
      }
    } catch (e) {
      const message = e instanceof OtlpDecodeError ? e.message : `cannot decode request: ${(e as Error)?.message ?? String(e)}`;
      m?.rejected.inc({ signal, receiver, reason: 'malformed' });
      return { kind: 'malformed', message };
    }
    if (outcome.kind === 'ok' && raw && this.deps.forwarder) this.deps.forwarder.enqueue(signal, raw, outcome.accepted);
    return outcome;
  }

  private consume(signal: 'traces' | 'metrics', receiver: ReceiverName, items: unknown[], rejected: number, rejectionMessage?: string): IngestOutcome {
    const m = this.deps.metrics;
    if (items.length === 0) return { kind: 'ok', accepted: 0, rejected, rejectionMessage };
    let r;
    try {
      r = signal === 'traces' ? this.sink.consumeSpans(items as never) : this.sink.consumeMetrics(items as never);
    } catch (e) {
      // A sink bug must not take the receiver down; tell the sender to retry.
      return { kind: 'shed', reason: 'sink', retryAfterSeconds: this.limits.retryAfterSeconds, message: `sink failed: ${(e as Error)?.message ?? String(e)}` };
    }
    if (r.ok) {
      m?.received.inc({ signal, receiver }, r.accepted);
      if (r.rejected > 0) m?.rejected.inc({ signal, receiver, reason: 'unsupported' }, r.rejected);
      const messages = [rejectionMessage, r.rejectionMessage].filter(Boolean).join('; ');
      return { kind: 'ok', accepted: r.accepted, rejected: rejected + r.rejected, rejectionMessage: messages || undefined };
    }
    if (r.retryable) {
      m?.rejected.inc({ signal, receiver, reason: 'overload' }, items.length);
      return { kind: 'shed', reason: 'sink', retryAfterSeconds: r.retryAfterSeconds, message: r.message };
    }
    m?.rejected.inc({ signal, receiver, reason: 'malformed' }, items.length);
    return { kind: 'refused', message: r.message };
  }

  countRequest(receiver: ReceiverName, signal: string, code: string): void {
    this.deps.metrics?.requests.inc({ receiver, signal, code });
  }

  countRefused(receiver: ReceiverName, signal: string, reason: 'malformed' | 'too_large' | 'overload' | 'unsupported'): void {
    this.deps.metrics?.rejected.inc({ signal, receiver, reason });
  }
}

function mib(n: number): string {
  return (n / 1048576).toFixed(1);
}
