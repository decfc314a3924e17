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
    expect(store.querySpans({ traceId: spans[2].traceId })[0]).toBe(spans[2]);
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
    for (let i = 0; i < 20_000; i++) store.consumeSpans([span(i, { attributes: { payload: big } })]);
    expect(store.estimatedBytes()).toBeLessThanOrEqual(budget);
    const s = store.stats();
    expect(s.spans).toBeGreaterThan(0);
    expect(s.evictedSpans).toBeGreaterThan(15_000);
    // What is left is the newest data.
    expect(s.newestMs).toBe(19_999);
  });
});
