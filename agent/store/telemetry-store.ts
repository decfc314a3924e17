// In-memory telemetry store: a time window of spans and metric points held in arrival-
// ordered chunks within a memory budget. Eviction drops whole chunks, oldest first, so it
// costs O(1) per chunk and memory stays bounded whatever arrives.

import type { ConsumeResult, TelemetrySink } from '../../model/sink';
import type { MetricQuery, SpanQuery, StoreStats, TelemetryReader } from '../../model/store';
import type { Attributes, MetricPoint, Snapshot, Span } from '../../model/telemetry';

export interface TelemetryStoreOptions {
  /** How long data is kept, measured on data time against the newest item seen. */
  windowMs: number;
  /** Estimated bytes of held telemetry before the oldest chunks are evicted. */
  budgetBytes: number;
  /** Items per chunk; smaller chunks evict more finely but cost more bookkeeping. */
  chunkSize?: number;
}

export const DEFAULT_STORE_OPTIONS: TelemetryStoreOptions = {
  windowMs: 15 * 60_000,
  budgetBytes: 256 * 1024 * 1024,
  chunkSize: 4096,
};

interface Chunk<T> {
  items: T[];
  minMs: number;
  maxMs: number;
  bytes: number;
}

// Rough per-object costs measured with process.memoryUsage() on Node 20 (V8 object header,
// hidden class slots, string headers). They only need to be proportional, not exact.
const SPAN_BASE_BYTES = 320;
const METRIC_BASE_BYTES = 200;

function attributesBytes(a: Attributes | Record<string, string>): number {
  let n = 0;
  for (const k in a) {
    const v = a[k];
    n += 48 + k.length + (typeof v === 'string' ? v.length : 8);
  }
  return n;
}

export function estimateSpanBytes(s: Span): number {
  return SPAN_BASE_BYTES + s.name.length + s.statusMessage.length + attributesBytes(s.attributes) + attributesBytes(s.resource) / 8;
}

export function estimateMetricBytes(p: MetricPoint): number {
  return METRIC_BASE_BYTES + p.name.length + attributesBytes(p.labels) + (p.bucketCounts ? p.bucketCounts.length * 16 : 0);
}

class ChunkedSeries<T> {
  readonly chunks: Chunk<T>[] = [];
  count = 0;
  bytes = 0;
  evicted = 0;
  newestMs = -Infinity;

  constructor(
    private readonly chunkSize: number,
    private readonly timeOf: (item: T) => number,
    private readonly sizeOf: (item: T) => number,
  ) {}

  append(items: T[]): void {
    let chunk = this.chunks[this.chunks.length - 1];
    for (const item of items) {
      if (!chunk || chunk.items.length >= this.chunkSize) {
        chunk = { items: [], minMs: Infinity, maxMs: -Infinity, bytes: 0 };
        this.chunks.push(chunk);
      }
      const t = this.timeOf(item);
      const b = this.sizeOf(item);
      chunk.items.push(item);
      if (t < chunk.minMs) chunk.minMs = t;
      if (t > chunk.maxMs) chunk.maxMs = t;
      if (t > this.newestMs) this.newestMs = t;
      chunk.bytes += b;
      this.bytes += b;
      this.count++;
    }
  }

  /** Drop the oldest chunk; returns false when nothing is left to drop. */
  evictOldest(): boolean {
    const c = this.chunks.shift();
    if (!c) return false;
    this.bytes -= c.bytes;
    this.count -= c.items.length;
    this.evicted += c.items.length;
    return true;
  }

  /** Drop chunks entirely older than cutoff. */
  evictBefore(cutoffMs: number): void {
    while (this.chunks.length > 1 && this.chunks[0].maxMs < cutoffMs) this.evictOldest();
  }

  *inRange(fromMs: number, toMs: number): Generator<T> {
    for (const c of this.chunks) {
      if (c.maxMs < fromMs || c.minMs >= toMs) continue;
      for (const item of c.items) {
        const t = this.timeOf(item);
        if (t >= fromMs && t < toMs) yield item;
      }
    }
  }

  oldestMs(): number | undefined {
    let m = Infinity;
    for (const c of this.chunks) if (c.minMs < m) m = c.minMs;
    return m === Infinity ? undefined : m;
  }
}

export class TelemetryStore implements TelemetrySink, TelemetryReader {
  private readonly spans: ChunkedSeries<Span>;
  private readonly metrics: ChunkedSeries<MetricPoint>;
  readonly options: Required<TelemetryStoreOptions>;

  constructor(options: Partial<TelemetryStoreOptions> = {}) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...options } as Required<TelemetryStoreOptions>;
    this.spans = new ChunkedSeries<Span>(this.options.chunkSize, (s) => s.startMs, estimateSpanBytes);
    this.metrics = new ChunkedSeries<MetricPoint>(this.options.chunkSize, (p) => p.timeMs, estimateMetricBytes);
  }

  consumeSpans(spans: Span[]): ConsumeResult {
    this.spans.append(spans);
    this.enforceLimits();
    return { ok: true, accepted: spans.length, rejected: 0 };
  }

  consumeMetrics(points: MetricPoint[]): ConsumeResult {
    this.metrics.append(points);
    this.enforceLimits();
    return { ok: true, accepted: points.length, rejected: 0 };
  }

  private enforceLimits(): void {
    const newest = Math.max(this.spans.newestMs, this.metrics.newestMs);
    if (Number.isFinite(newest)) {
      this.spans.evictBefore(newest - this.options.windowMs);
      this.metrics.evictBefore(newest - this.options.windowMs);
    }
    // Over budget: evict from whichever kind holds the older oldest chunk.
    while (this.spans.bytes + this.metrics.bytes > this.options.budgetBytes) {
      const so = this.spans.chunks[0]?.minMs ?? Infinity;
      const mo = this.metrics.chunks[0]?.minMs ?? Infinity;
      const evicted = so <= mo ? this.spans.evictOldest() : this.metrics.evictOldest();
      if (!evicted) break;
    }
  }

  /** Bytes held, as estimated; the receiver compares this to its limits to shed load. */
  estimatedBytes(): number {
    return this.spans.bytes + this.metrics.bytes;
  }

  snapshot(fromMs: number, toMs: number): Snapshot {
    return {
      fromMs,
      toMs,
      spans: Array.from(this.spans.inRange(fromMs, toMs)),
      metrics: Array.from(this.metrics.inRange(fromMs, toMs)),
    };
  }

  querySpans(q: SpanQuery): Span[] {
    const out: Span[] = [];
    const limit = q.limit ?? Infinity;
    for (const s of this.spans.inRange(q.fromMs ?? -Infinity, q.toMs ?? Infinity)) {
      if (q.traceId !== undefined && s.traceId !== q.traceId) continue;
      if (q.service !== undefined && s.service !== q.service) continue;
      if (q.instance !== undefined && s.instance !== q.instance) continue;
      if (q.operation !== undefined && s.name !== q.operation) continue;
      if (q.onlyErrors && s.status !== 2) continue;
      out.push(s);
      if (out.length >= limit) break;
    }
    return out;
  }

  queryMetrics(q: MetricQuery): MetricPoint[] {
    const out: MetricPoint[] = [];
    const limit = q.limit ?? Infinity;
    for (const p of this.metrics.inRange(q.fromMs ?? -Infinity, q.toMs ?? Infinity)) {
      if (q.name !== undefined && p.name !== q.name) continue;
      if (q.service !== undefined && p.service !== q.service) continue;
      if (q.instance !== undefined && p.instance !== q.instance) continue;
      if (q.host !== undefined && p.host !== q.host) continue;
      out.push(p);
      if (out.length >= limit) break;
    }
    return out;
  }

  timeRange(): { fromMs: number; toMs: number } | undefined {
    const olds = [this.spans.oldestMs(), this.metrics.oldestMs()].filter((x): x is number => x !== undefined);
    const newest = Math.max(this.spans.newestMs, this.metrics.newestMs);
    if (olds.length === 0 || !Number.isFinite(newest)) return undefined;
    return { fromMs: Math.min(...olds), toMs: newest };
  }

  stats(): StoreStats {
    const range = this.timeRange();
    return {
      spans: this.spans.count,
      metricPoints: this.metrics.count,
      estimatedBytes: this.estimatedBytes(),
      budgetBytes: this.options.budgetBytes,
      windowMs: this.options.windowMs,
      oldestMs: range?.fromMs,
      newestMs: range?.toMs,
      evictedSpans: this.spans.evicted,
      evictedMetricPoints: this.metrics.evicted,
    };
  }
}
