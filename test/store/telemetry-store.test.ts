import { TelemetryStore } from '../../agent/store/telemetry-store';
import type { MetricPoint, Span } from '../../model/telemetry';

let n = 0;
function span(startMs: number, over: Partial<Span> = {}): Span {
  n++;
  return {
    traceId: (n.toString(16).padStart(32, '0')),
    spanId: n.toString(16).padStart(16, '0'),
    parentSpanId: '',
    service: 'ranker',
    instance: 'ranker-1',
    host: 'node-a',
    name: 'POST /rank',
    kind: 2,
    startMs,
    durationMs: 5,
    status: 0,
    statusMessage: '',
    attributes: { 'http.route': '/rank' },
    resource: {},
    exceptionCount: 0,
    ...over,
  };
}

function point(timeMs: number, value: number): MetricPoint {
  return { name: 'system.cpu.utilization', unit: '1', kind: 'gauge', service: '', instance: '', host: 'node-a', labels: {}, timeMs, value };
}

describe('TelemetryStore', () => {
  it('answers snapshots and queries by time range, service and trace', () => {
    const store = new TelemetryStore({ chunkSize: 3 });
    const spans = [span(1000), span(2000, { service: 'model-server' }), span(3000), span(4000, { status: 2 })];
    store.consumeSpans(spans);
    store.consumeMetrics([point(1500, 0.2), point(3500, 0.9)]);
    const snap = store.snapshot(1500, 3500);
    expect(snap.spans.map((s) => s.startMs)).toEqual([2000, 3000]);
    expect(snap.metrics.map((p) => p.value)).toEqual([0.2]);
    expect(store.querySpans({ service: 'model-server' })).toHaveLength(1);
    expect(store.querySpans({ traceId: spans[2].traceId })).toEqual([spans[2]]);
    expect(store.querySpans({ onlyErrors: true })).toHaveLength(1);
    expect(store.querySpans({ limit: 2 })).toHaveLength(2);
    expect(store.timeRange()).toEqual({ fromMs: 1000, toMs: 4000 });
  });

  it('evicts data older than the window, oldest first', () => {
    const store = new TelemetryStore({ windowMs: 10_000, chunkSize: 10 });
    for (let t = 0; t < 100; t++) store.consumeSpans([span(t * 1000)]);
    const s = store.stats();
    expect(s.oldestMs).toBeGreaterThanOrEqual(100_000 - 10_000 - 10_000); // whole chunks go
    expect(s.evictedSpans).toBeGreaterThan(0);
    expect(s.spans + s.evictedSpans).toBe(100);
  });

  it('keeps memory within the budget whatever arrives', () => {
    const budget = 2 * 1024 * 1024;
    const store = new TelemetryStore({ budgetBytes: budget, windowMs: 1e12, chunkSize: 256 });
    const big = 'x'.repeat(2000);
    for (let i = 0; i < 20_000; i++) store.consumeSpans([span(i, { attributes: { payload: big + i } })]);
    expect(store.estimatedBytes()).toBeLessThanOrEqual(budget);
    const s = store.stats();
    expect(s.spans).toBeGreaterThan(0);
    expect(s.evictedSpans).toBeGreaterThan(15_000);
    // What is left is the newest data.
    expect(s.newestMs).toBe(19_999);
  });

  it('gives back exactly the spans it was given (columns round-trip)', () => {
    const store = new TelemetryStore({ chunkSize: 4 });
    const spans = [
      span(1700000000123.4567, { parentSpanId: 'ffffffff00000001', status: 2, statusMessage: 'boom', exceptionCount: 2, kind: 3 }),
      span(1700000000124, { attributes: { a: 1, b: true, c: 'x' }, resource: { 'k8s.pod.name': 'p' }, host: '' }),
      span(1700000000125, { spanId: 'not-a-hex-id', parentSpanId: 'also-odd' }),
      span(1700000000126, { attributes: { a: 1, b: true, c: 'x' } }),
      span(1700000000127, { service: 'other', instance: 'other-2', name: 'GET /x' }),
    ];
    store.consumeSpans(spans);
    expect(store.querySpans({})).toEqual(spans);
  });

  it('holds a span in far fewer bytes than a span object', () => {
    const store = new TelemetryStore({ chunkSize: 4096 });
    const batch: Span[] = [];
    // Ten spans a trace, repeated attribute sets: a typical service's traffic.
    for (let i = 0; i < 40_000; i++) {
      batch.push(span(i, { traceId: Math.floor(i / 10).toString(16).padStart(32, '0'), attributes: { 'http.method': 'POST', 'http.route': '/rank', 'http.status_code': 200 } }));
    }
    store.consumeSpans(batch);
    // A span object like these costs ~800 bytes on the heap; columns hold it in ~80.
    expect(store.estimatedBytes() / 40_000).toBeLessThan(120);
  });
});

describe('TelemetryStore clock skew', () => {
  it('does not let one far-future span evict the window', () => {
    const store = new TelemetryStore({ windowMs: 5 * 60_000, chunkSize: 2 });
    const now = Date.now();
    for (let i = 0; i < 10; i++) store.consumeSpans([span(now - 10_000 + i * 1000)]);
    store.consumeSpans([span(now + 365 * 86_400_000)]);
    expect(store.stats().spans).toBe(11);
  });
});
