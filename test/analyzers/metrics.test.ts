// Metric evidence from counters: cumulative and delta counters become per-second rates, a
// restart (the cumulative value falls) is not a negative rate, and a resource counter that
// jumps after the change scores like a gauge would.

import type { MetricPoint } from '../../model/telemetry';
import { counterRates, scoreMetrics } from '../../analyzers/metrics';

const point = (timeMs: number, value: number, extra: Partial<MetricPoint> = {}): MetricPoint => ({
  name: 'system.disk.operation_time', unit: 's', kind: 'counter', service: '', instance: 'node-a', host: 'node-a', labels: { 'system.device': 'sda' }, timeMs, value, ...extra,
});

test('cumulative counters become rates at the later point; a restart is skipped', () => {
  const rates = counterRates([point(10_000, 100), point(0, 90), point(20_000, 130), point(30_000, 5), point(40_000, 15)]);
  expect(rates.map((p) => [p.timeMs, p.value])).toEqual([[10_000, 1], [20_000, 3], [40_000, 1]]);
  expect(rates.every((p) => p.kind === 'gauge' && p.unit === 's/s')).toBe(true);
});

test('delta counters are divided by the gap to the previous point', () => {
  const rates = counterRates([point(0, 7, { temporality: 'delta' }), point(5_000, 10, { temporality: 'delta' })]);
  expect(rates.map((p) => p.value)).toEqual([2]);
});

test('series are kept apart by labels; gauges are not rates', () => {
  const rates = counterRates([point(0, 0), point(10_000, 10), point(0, 0, { labels: { 'system.device': 'sdb' } }), point(10_000, 50, { labels: { 'system.device': 'sdb' } }), point(0, 1, { kind: 'gauge' }), point(10_000, 2, { kind: 'gauge' })]);
  expect(rates.map((p) => p.value).sort((a, b) => a - b)).toEqual([1, 5]);
});

test('a disk-busy counter that jumps after the change is scored as disk evidence', () => {
  const pts: MetricPoint[] = [];
  let busy = 1000;
  for (let t = 0; t <= 200_000; t += 10_000) {
    busy += (t > 120_000 ? 0.9 : 0.02 + (t % 30_000 === 0 ? 0.004 : 0)) * 10;
    pts.push(point(t, busy));
  }
  const scores = scoreMetrics(pts, undefined, 120_000);
  expect(scores).toHaveLength(1);
  expect(scores[0]).toMatchObject({ name: 'system.disk.operation_time', category: 'disk', unit: 's/s', direction: 1 });
  expect(scores[0].after).toBeCloseTo(0.9, 5);
  expect(scores[0].score).toBeGreaterThan(10);
});

test('one outlying point after the change is not evidence; a sustained shift is', () => {
  const gauge = (t: number, v: number): MetricPoint => ({ name: 'process.cpu.utilization', unit: '1', kind: 'gauge', service: 'ranker', instance: 'ranker-0', host: 'h', labels: {}, timeMs: t, value: v });
  const normal = [0.1, 0.11, 0.09, 0.1, 0.12, 0.1, 0.09, 0.11];
  const series = (after: number[]) => [...normal, ...after].map((v, i) => gauge(i * 10_000, v));
  const change = normal.length * 10_000;
  expect(scoreMetrics(series([0.1, 0.3, 0.1, 0.11, 0.09, 0.1]), undefined, change + 10_000)).toHaveLength(0);
  const sustained = scoreMetrics(series([0.1, 0.9, 0.92, 0.88, 0.9, 0.91]), undefined, change + 10_000);
  expect(sustained).toHaveLength(1);
  expect(sustained[0].after).toBeGreaterThan(0.85);
});

test('a limit that rises (V8 growing its heap as a process warms up) is a setting, not memory evidence', () => {
  const series = (name: string) =>
    [30, 30, 30, 30, 30, 30, 40, 40, 40, 40, 40].map((mb, i): MetricPoint => ({ name, unit: 'By', kind: 'gauge', service: 'api', instance: 'api-1', host: 'h', labels: {}, timeMs: i * 10_000, value: mb * 2 ** 20 }));
  expect(scoreMetrics(series('v8js.memory.heap.limit'), undefined, 60_000)).toHaveLength(0);
  expect(scoreMetrics(series('container.memory.limit'), undefined, 60_000)).toHaveLength(0);
  // The same shape on a usage series is evidence.
  expect(scoreMetrics(series('v8js.memory.heap.used'), undefined, 60_000)).toHaveLength(1);
});

test('a count gauge moving by one (a request in flight at the sample) is not evidence; a queue of five is', () => {
  // Flat at 0 in normal times, a whole-number gauge can only move in steps of one: one step
  // is the measurement's own grain, not a spread of zero crossed infinitely far.
  const series = (after: number[]) =>
    [0, 0, 0, 0, 0, 0, 0, 0, ...after].map((v, i): MetricPoint => ({ name: 'app.inflight', unit: '', kind: 'gauge', service: 'ranker', instance: 'ranker-1', host: 'h', labels: {}, timeMs: i * 2_000, value: v }));
  expect(scoreMetrics(series([0, 1, 1, 0, 1]), undefined, 16_000)).toHaveLength(0);
  const queue = scoreMetrics(series([4, 5, 6, 5, 5]), undefined, 16_000);
  expect(queue).toHaveLength(1);
  expect(queue[0].score).toBeGreaterThanOrEqual(5);
});
