// In-memory telemetry store: a time window of spans and metric points held in arrival-
// ordered chunks within a memory budget. Spans are held as columns (span-columns.ts, ~10x
// smaller than objects). Eviction drops whole chunks, oldest first, so it costs O(1) per
// chunk and memory stays bounded whatever arrives.

import type { ConsumeResult, TelemetrySink } from '../../model/sink';
import type { MetricQuery, SpanQuery, StoreStats, TelemetryReader } from '../../model/store';
import type { MetricPoint, Snapshot, Span } from '../../model/telemetry';
import { OperationAggregates, isEntrySpan } from './operation-aggregates';
import { type ParseCache, SpanColumns } from './span-columns';

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

/** What the series needs of a chunk, whether it holds objects or columns. */
interface Chunk<T> {
  readonly length: number;
  readonly full: boolean;
  readonly bytes: number;
  minMs: number;
  maxMs: number;
  push(item: T): void;
  startOf(i: number): number;
}

// Rough per-object costs measured on Node 20 (V8 object header, hidden-class slots, string
// headers). They only need to be proportional: the budget is a bound, not an accounting.
const METRIC_BASE_BYTES = 240;

function labelsBytes(a: Record<string, string>): number {
  let n = 0;
  for (const k in a) n += 48 + k.length + a[k].length;
  return n;
}

export function estimateMetricBytes(p: MetricPoint): number {
  return METRIC_BASE_BYTES + p.name.length + labelsBytes(p.labels) + (p.bucketCounts ? p.bucketCounts.length * 16 : 0);
}

/** Metric points are few next to spans (a scrape every few seconds): plain objects suffice. */
class ObjectChunk implements Chunk<MetricPoint> {
  readonly items: MetricPoint[] = [];
  minMs = Infinity;
  maxMs = -Infinity;
  bytes = 0;
  constructor(private readonly capacity: number) {}
  get length(): number {
    return this.items.length;
  }
  get full(): boolean {
    return this.items.length >= this.capacity;
  }
  push(p: MetricPoint): void {
    this.items.push(p);
    this.bytes += estimateMetricBytes(p);
    if (p.timeMs < this.minMs) this.minMs = p.timeMs;
    if (p.timeMs > this.maxMs) this.maxMs = p.timeMs;
  }
  startOf(i: number): number {
    return this.items[i].timeMs;
  }
}

/** Chunks in arrival order; eviction drops whole chunks, oldest first. */
class ChunkedSeries<T, C extends Chunk<T>> {
  readonly chunks: C[] = [];
  count = 0;
  evicted = 0;
  newestMs = -Infinity;
  private sealedBytes = 0;

  constructor(private readonly newChunk: () => C) {}

  get bytes(): number {
    const open = this.chunks[this.chunks.length - 1];
    return this.sealedBytes + (open ? open.bytes : 0);
  }

  append(items: T[]): void {
    let chunk = this.chunks[this.chunks.length - 1];
    for (const item of items) {
      if (!chunk || chunk.full) {
        if (chunk) this.sealedBytes += chunk.bytes;
        chunk = this.newChunk();
        this.chunks.push(chunk);
      }
      chunk.push(item);
      this.count++;
    }
    if (chunk && chunk.maxMs > this.newestMs) this.newestMs = chunk.maxMs;
  }

  /** Drop the oldest chunk; returns false when nothing is left to drop. */
  evictOldest(): boolean {
    const c = this.chunks.shift();
    if (!c) return false;
    if (this.chunks.length > 0) this.sealedBytes -= c.bytes;
    else this.sealedBytes = 0;
    this.count -= c.length;
    this.evicted += c.length;
    return true;
  }

  /** Drop chunks entirely older than cutoff. */
  evictBefore(cutoffMs: number): void {
    while (this.chunks.length > 1 && this.chunks[0].maxMs < cutoffMs) this.evictOldest();
  }

  /** Calls visit(chunk, index) for every item whose time is in [fromMs, toMs) until it returns false. */
  forEachInRange(fromMs: number, toMs: number, visit: (c: C, i: number) => boolean | void): void {
    for (const c of this.chunks) {
      if (c.maxMs < fromMs || c.minMs >= toMs) continue;
      const n = c.length;
      for (let i = 0; i < n; i++) {
        const t = c.startOf(i);
        if (t >= fromMs && t < toMs && visit(c, i) === false) return;
      }
    }
  }

  /**
   * The chunks that hold items of [fromMs, toMs), as they are now: a reader that goes on after
   * an await keeps reading what it started with, whatever is evicted or appended meanwhile.
   */
  chunksInRange(fromMs: number, toMs: number): C[] {
    return this.chunks.filter((c) => !(c.maxMs < fromMs || c.minMs >= toMs));
  }

  oldestMs(): number | undefined {
    let m = Infinity;
    for (const c of this.chunks) if (c.minMs < m) m = c.minMs;
    return m === Infinity ? undefined : m;
  }
}

const MAX_CLOCK_SKEW_MS = 60_000;

/** FNV-1a over the string's char codes, unsigned 32 bits: a trace id's place in the sample. */
function hash32(str: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class TelemetryStore implements TelemetrySink, TelemetryReader {
  private readonly spans: ChunkedSeries<Span, SpanColumns>;
  private readonly metrics: ChunkedSeries<MetricPoint, ObjectChunk>;
  /** Running per-operation aggregates kept on ingest (operationAggregates()). */
  private readonly aggregates: OperationAggregates[] = [];
  readonly options: Required<TelemetryStoreOptions>;

  constructor(options: Partial<TelemetryStoreOptions> = {}) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...options } as Required<TelemetryStoreOptions>;
    const size = this.options.chunkSize;
    this.spans = new ChunkedSeries<Span, SpanColumns>(() => new SpanColumns(size));
    this.metrics = new ChunkedSeries<MetricPoint, ObjectChunk>(() => new ObjectChunk(size));
  }

  consumeSpans(spans: Span[]): ConsumeResult {
    this.spans.append(spans);
    if (this.aggregates.length) {
      const now = Date.now();
      for (const a of this.aggregates) a.add(spans, now);
    }
    this.enforceLimits();
    return { ok: true, accepted: spans.length, rejected: 0 };
  }

  consumeMetrics(points: MetricPoint[]): ConsumeResult {
    this.metrics.append(points);
    this.enforceLimits();
    return { ok: true, accepted: points.length, rejected: 0 };
  }

  private enforceLimits(): void {
    // One span stamped far in the future (a bad clock, a bit flip) must not evict the whole
    // window: data time counts only up to a little past the wall clock.
    const newest = Math.min(Math.max(this.spans.newestMs, this.metrics.newestMs), Date.now() + MAX_CLOCK_SKEW_MS);
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

  /**
   * Per-(service, operation) bucketed sums of entry spans, kept up to date on every
   * consumeSpans from now on and filled from the spans held now (one pass over the columns,
   * no Span objects). One set per bucket width: a second call with the same width returns
   * the same object. Evicting spans does not remove them from the aggregates: those cover
   * their own horizon.
   */
  operationAggregates(bucketMs: number, horizonMs: number): OperationAggregates {
    const have = this.aggregates.find((a) => a.bucketMs === bucketMs && a.horizonMs >= horizonMs);
    if (have) return have;
    const agg = new OperationAggregates({ bucketMs, horizonMs });
    const now = Date.now();
    for (const c of this.spans.chunks) {
      for (let i = 0; i < c.length; i++) {
        // Checked before addFields so non-entry spans cost no name lookups.
        if (!isEntrySpan(c.kindOf(i), c.isRoot(i))) continue;
        agg.addFields(c.serviceOf(i), c.nameOf(i), c.kindOf(i), c.isRoot(i), c.startOf(i), c.durationOf(i), c.statusOf(i) === 2 || c.exceptionsOf(i) > 0, now);
      }
    }
    this.aggregates.push(agg);
    return agg;
  }

  /**
   * A snapshot of [fromMs, toMs) with at most about maxSpans spans: when more are held, whole
   * traces are kept or left out together (by a hash of the trace id), so what is kept is a
   * uniform sample of traces with their call structure intact. Metrics are kept whole.
   * Returns the fraction of traces kept as `sampled`.
   */
  sampledSnapshot(fromMs: number, toMs: number, maxSpans: number): Snapshot & { sampled: number } {
    let n = 0;
    this.spans.forEachInRange(fromMs, toMs, () => void n++);
    if (n <= maxSpans) return { ...this.snapshot(fromMs, toMs), sampled: 1 };
    const keep = maxSpans / n;
    const threshold = Math.floor(keep * 0x100000000);
    const spans: Span[] = [];
    let cacheOf: SpanColumns | undefined;
    let cache: ParseCache | undefined;
    let kept: Int8Array = new Int8Array(0); // per trace index of the chunk: 0 unknown, 1 keep, -1 drop
    this.spans.forEachInRange(fromMs, toMs, (c, i) => {
      if (cacheOf !== c) {
        cacheOf = c;
        cache = c.newParseCache();
        kept = new Int8Array(c.traceCount());
      }
      const t = c.traceIndexOf(i);
      if (kept[t] === 0) kept[t] = hash32(c.traceIdOf(i)) < threshold ? 1 : -1;
      if (kept[t] === 1) spans.push(c.get(i, cache));
    });
    return { fromMs, toMs, spans, metrics: this.queryMetrics({ fromMs, toMs }), sampled: keep };
  }

  /**
   * The spans of [fromMs, toMs), one at a time, materialized only as they are read: what a
   * recording streams to disk without holding the window as objects.
   */
  *spansInRange(fromMs: number, toMs: number): Generator<Span> {
    for (const c of this.spans.chunksInRange(fromMs, toMs)) {
      const cache = c.newParseCache();
      const n = c.length;
      for (let i = 0; i < n; i++) {
        const t = c.startOf(i);
        if (t >= fromMs && t < toMs) yield c.get(i, cache);
      }
    }
  }

  /** Bytes held, as estimated; the receiver compares this to its limits to shed load. */
  estimatedBytes(): number {
    return this.spans.bytes + this.metrics.bytes;
  }

  snapshot(fromMs: number, toMs: number): Snapshot {
    return { fromMs, toMs, spans: this.querySpans({ fromMs, toMs }), metrics: this.queryMetrics({ fromMs, toMs }) };
  }

  querySpans(q: SpanQuery): Span[] {
    const out: Span[] = [];
    const limit = q.limit ?? Infinity;
    let cacheOf: SpanColumns | undefined;
    let cache: ParseCache | undefined;
    this.spans.forEachInRange(q.fromMs ?? -Infinity, q.toMs ?? Infinity, (c, i) => {
      if (q.traceId !== undefined && c.traceIdOf(i) !== q.traceId) return;
      if (q.service !== undefined && c.serviceOf(i) !== q.service) return;
      if (q.instance !== undefined && c.instanceOf(i) !== q.instance) return;
      if (q.operation !== undefined && c.nameOf(i) !== q.operation) return;
      if (q.onlyErrors && c.statusOf(i) !== 2) return;
      if (cacheOf !== c) {
        cacheOf = c;
        cache = c.newParseCache();
      }
      out.push(c.get(i, cache));
      return out.length < limit;
    });
    return out;
  }

  queryMetrics(q: MetricQuery): MetricPoint[] {
    const out: MetricPoint[] = [];
    const limit = q.limit ?? Infinity;
    this.metrics.forEachInRange(q.fromMs ?? -Infinity, q.toMs ?? Infinity, (c, i) => {
      const p = c.items[i];
      if (q.name !== undefined && p.name !== q.name) return;
      if (q.service !== undefined && p.service !== q.service) return;
      if (q.instance !== undefined && p.instance !== q.instance) return;
      if (q.host !== undefined && p.host !== q.host) return;
      out.push(p);
      return out.length < limit;
    });
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
