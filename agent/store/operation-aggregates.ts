// Running per-operation aggregates for live change detection. For every entry span (SERVER,
// CONSUMER, or a root) the store adds its log duration to a time bucket of its
// (service, operation) series as it arrives: count, error count, sum and sum of squares of
// log(ms) over the successful spans, and root count (entry-point throughput). The watcher reads the last window of
// buckets, O(series x buckets), instead of materializing every held span every few seconds.
//
// Buckets live in a ring per series, indexed by absolute bucket number (floor(startMs /
// bucketMs)), so late spans land in their own bucket and old buckets are overwritten as data
// time moves on. The sums are what analyzers/detect.ts accumulates from a snapshot, except
// that latency leaves failed spans out (detectChangeInSeries takes latCnt for that).

import type { Span } from '../../model/telemetry';

const K_SERVER = 2;
const K_CONSUMER = 5;
const S_ERROR = 2;
const MAX_CLOCK_SKEW_MS = 60_000;

/** The spans the aggregates count: entry spans (SERVER, CONSUMER) and roots. */
export function isEntrySpan(kind: number, isRoot: boolean): boolean {
  return kind === K_SERVER || kind === K_CONSUMER || isRoot;
}

/** Key of the per-service series that counts root spans (never a real operation name). */
export const ROOTS_OPERATION = '\u0001roots';

/** One series over a range of buckets, oldest first (plain arrays the analyzers can read). */
export interface OperationSeriesWindow {
  service: string;
  /** undefined for the per-service root-span (throughput) series. */
  operation?: string;
  cnt: Float64Array;
  /** Successful spans: the ones whose durations are in sumLog/sumLog2. */
  latCnt: Float64Array;
  sumLog: Float64Array;
  sumLog2: Float64Array;
  err: Float64Array;
  roots: Float64Array;
}

export interface AggregateWindow {
  /** Start of the first bucket. */
  fromMs: number;
  /** End of the last bucket (fromMs + buckets x bucketMs). */
  toMs: number;
  bucketMs: number;
  series: OperationSeriesWindow[];
}

export interface OperationAggregatesOptions {
  bucketMs: number;
  /** How much data time the ring covers (buckets older than this are overwritten). */
  horizonMs: number;
  /** Distinct (service, operation) series kept; spans of further ones are counted in `dropped`. */
  maxSeries?: number;
}

class Ring {
  readonly stamp: Float64Array; // absolute bucket held by each slot (-1: none)
  readonly cnt: Float64Array;
  readonly latCnt: Float64Array;
  readonly sumLog: Float64Array;
  readonly sumLog2: Float64Array;
  readonly err: Float64Array;
  readonly roots: Float64Array;
  lastBucket = -Infinity;

  constructor(
    readonly service: string,
    readonly operation: string,
    n: number,
  ) {
    this.stamp = new Float64Array(n).fill(-1);
    this.cnt = new Float64Array(n);
    this.latCnt = new Float64Array(n);
    this.sumLog = new Float64Array(n);
    this.sumLog2 = new Float64Array(n);
    this.err = new Float64Array(n);
    this.roots = new Float64Array(n);
  }

  /** The slot for absolute bucket b, reset when it held an older bucket. */
  slot(b: number): number {
    const n = this.stamp.length;
    const i = ((b % n) + n) % n;
    if (this.stamp[i] !== b) {
      this.stamp[i] = b;
      this.cnt[i] = 0;
      this.latCnt[i] = 0;
      this.sumLog[i] = 0;
      this.sumLog2[i] = 0;
      this.err[i] = 0;
      this.roots[i] = 0;
    }
    if (b > this.lastBucket) this.lastBucket = b;
    return i;
  }
}

export class OperationAggregates {
  readonly bucketMs: number;
  readonly horizonMs: number;
  private readonly slots: number;
  private readonly maxSeries: number;
  private readonly byService = new Map<string, Map<string, Ring>>();
  private nSeries = 0;
  /** Newest bucket seen (data time). */
  private newestBucket = -Infinity;
  private sweptAt = -Infinity;
  /** Entry spans not counted: too old for the ring, far in the future, or over maxSeries. */
  dropped = 0;
  /** Entry spans counted so far. */
  added = 0;

  constructor(options: OperationAggregatesOptions) {
    if (!(options.bucketMs > 0) || !(options.horizonMs > 0)) throw new RangeError('bucketMs and horizonMs must be positive');
    this.bucketMs = options.bucketMs;
    this.horizonMs = options.horizonMs;
    // Two spare slots: the bucket in progress and one for spans arriving a little late.
    this.slots = Math.ceil(options.horizonMs / options.bucketMs) + 2;
    this.maxSeries = options.maxSeries ?? 20_000;
  }

  get seriesCount(): number {
    return this.nSeries;
  }

  /** Bytes held (typed arrays), for the store's accounting. */
  get bytes(): number {
    return this.nSeries * (this.slots * 7 * 8 + 200);
  }

  private ring(service: string, operation: string): Ring | undefined {
    let m = this.byService.get(service);
    if (!m) this.byService.set(service, (m = new Map()));
    let r = m.get(operation);
    if (!r) {
      if (this.nSeries >= this.maxSeries) {
        this.sweep();
        if (this.nSeries >= this.maxSeries) return undefined;
      }
      m.set(operation, (r = new Ring(service, operation, this.slots)));
      this.nSeries++;
    }
    return r;
  }

  /** Count one span given its fields (what both Span objects and stored columns provide). */
  addFields(service: string, name: string, kind: number, isRoot: boolean, startMs: number, durationMs: number, failed: boolean, nowMs: number): void {
    if (!isEntrySpan(kind, isRoot)) return;
    if (!(startMs <= nowMs + MAX_CLOCK_SKEW_MS)) {
      this.dropped++;
      return;
    }
    const b = Math.floor(startMs / this.bucketMs);
    if (b > this.newestBucket) {
      this.newestBucket = b;
      // Once per ring turn: operations that stopped are forgotten.
      if (b - this.sweptAt >= this.slots) {
        this.sweptAt = b;
        this.sweep();
      }
    }
    if (b <= this.newestBucket - this.slots + 1) {
      this.dropped++; // older than the ring covers
      return;
    }
    const r = this.ring(service, name);
    if (!r) {
      this.dropped++;
      return;
    }
    const i = r.slot(b);
    const l = Math.log(durationMs > 0.01 ? durationMs : 0.01);
    r.cnt[i]++;
    if (failed) r.err[i]++;
    else {
      // Latency of successful spans only: a failure's duration says how fast it failed.
      r.latCnt[i]++;
      r.sumLog[i] += l;
      r.sumLog2[i] += l * l;
    }
    if (isRoot) {
      const rr = this.ring(service, ROOTS_OPERATION);
      if (rr) rr.roots[rr.slot(b)]++;
    }
    this.added++;
  }

  add(spans: readonly Span[], nowMs = Date.now()): void {
    for (const s of spans) {
      this.addFields(s.service, s.name, s.kind, s.parentSpanId === '', s.startMs, s.durationMs, s.status === S_ERROR || s.exceptionCount > 0, nowMs);
    }
  }

  /** Newest bucket's end in data time, undefined before any span. */
  newestMs(): number | undefined {
    return Number.isFinite(this.newestBucket) ? (this.newestBucket + 1) * this.bucketMs : undefined;
  }

  /**
   * The buckets covering [fromMs, toMs), both rounded down to bucket boundaries (so a window
   * ending now leaves out the bucket still filling). Series without a span in it are left out.
   */
  window(fromMs: number, toMs: number): AggregateWindow {
    const bw = this.bucketMs;
    let b0 = Math.floor(fromMs / bw);
    const b1 = Math.floor(toMs / bw); // exclusive
    // Never further back than the ring holds.
    b0 = Math.max(b0, this.newestBucket - this.slots + 2);
    const nb = Math.max(0, b1 - b0);
    const out: AggregateWindow = { fromMs: b0 * bw, toMs: (b0 + nb) * bw, bucketMs: bw, series: [] };
    if (nb === 0) return out;
    for (const m of this.byService.values()) {
      for (const r of m.values()) {
        if (r.lastBucket < b0) continue;
        const w: OperationSeriesWindow = {
          service: r.service,
          operation: r.operation === ROOTS_OPERATION ? undefined : r.operation,
          cnt: new Float64Array(nb), latCnt: new Float64Array(nb), sumLog: new Float64Array(nb), sumLog2: new Float64Array(nb), err: new Float64Array(nb), roots: new Float64Array(nb),
        };
        let any = false;
        const n = r.stamp.length;
        for (let k = 0; k < nb; k++) {
          const b = b0 + k;
          const i = ((b % n) + n) % n;
          if (r.stamp[i] !== b) continue;
          w.cnt[k] = r.cnt[i];
          w.latCnt[k] = r.latCnt[i];
          w.sumLog[k] = r.sumLog[i];
          w.sumLog2[k] = r.sumLog2[i];
          w.err[k] = r.err[i];
          w.roots[k] = r.roots[i];
          any = true;
        }
        if (any) out.series.push(w);
      }
    }
    return out;
  }

  /** Forget series with no span within the horizon (operations that went away). */
  sweep(): void {
    const oldest = this.newestBucket - this.slots + 1;
    for (const [svc, m] of this.byService) {
      for (const [op, r] of m) {
        if (r.lastBucket < oldest) {
          m.delete(op);
          this.nSeries--;
        }
      }
      if (m.size === 0) this.byService.delete(svc);
    }
  }
}
