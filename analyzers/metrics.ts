// Metric evidence, BARO-style: per series, median and IQR of the normal points (baseline,
// else before the change) and the largest robust deviation after the change. Near-constant
// series and series that are just as anomalous within the normal period are dropped.

import type { MetricPoint } from '../model/telemetry';
import { seriesKey } from '../model/telemetry';
import { robust } from './stats';

export type MetricCategory = 'cpu' | 'memory' | 'disk' | 'network' | 'latency' | 'errors' | 'throughput' | 'other';

export function metricCategory(name: string): MetricCategory {
  const n = name.toLowerCase();
  if (/cpu|throttl|steal|psi.*cpu/.test(n)) return 'cpu';
  if (/mem|heap|rss|oom|gc/.test(n)) return 'memory';
  if (/disk|filesystem|fs\.|io_|\.io\b|syscall|block/.test(n)) return 'disk';
  if (/latency|duration|response_time/.test(n)) return 'latency';
  if (/error|fail|success/.test(n)) return 'errors';
  if (/network|net\.|receive|transmit|packet|tcp|retrans/.test(n)) return 'network';
  if (/workload|request|ops|throughput|rate/.test(n)) return 'throughput';
  return 'other';
}

export interface MetricSeriesScore {
  key: string;
  name: string;
  unit: string;
  service: string; // '' for a host series
  instance: string;
  host: string;
  category: MetricCategory;
  before: number; // normal median
  after: number; // most deviating value after the change
  score: number; // robust z, >= 0
  direction: 1 | -1;
  points: Array<[number, number]>;
}

const MIN_NORMAL_POINTS = 2;
/**
 * Limits and capacities (`v8js.memory.heap.limit`, `container.memory.limit`, ...) are settings,
 * not load: V8 raises its heap limit as a fresh process warms up, which read as a memory
 * change of every bystander. A changed limit is a configuration change (changes.ts).
 */
const LIMIT_SERIES = /(^|[._])(limit|limits|capacity|max_bytes)($|[._])/i;
const SCORE_FLOOR = 3;
const FLAT_SERIES_CAP = 10;

/**
 * Counters as per-second rates, so cumulative resource counters (CPU seconds, disk busy time,
 * bytes, throttled periods, Prometheus `_total`s) can be scored like gauges: one gauge point
 * per pair of consecutive points of a series, at the later one's time, unit `<unit>/s`. A
 * cumulative counter that falls has restarted: that pair is skipped. A delta point is already
 * an increment: it is divided by the gap to the series' previous point.
 */
export function counterRates(points: MetricPoint[]): MetricPoint[] {
  const bySeries = new Map<string, MetricPoint[]>();
  for (const p of points) {
    if (p.kind !== 'counter' || !Number.isFinite(p.value)) continue;
    const key = seriesKey(p);
    const list = bySeries.get(key);
    if (list) list.push(p);
    else bySeries.set(key, [p]);
  }
  const out: MetricPoint[] = [];
  for (const list of bySeries.values()) {
    list.sort((a, b) => a.timeMs - b.timeMs);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1], cur = list[i];
      const seconds = (cur.timeMs - prev.timeMs) / 1000;
      if (!(seconds > 0)) continue;
      const increment = cur.temporality === 'delta' ? cur.value : cur.value - prev.value;
      if (increment < 0) continue;
      out.push({ ...cur, kind: 'gauge', value: increment / seconds, unit: `${cur.unit}/s` });
    }
  }
  return out;
}

/**
 * Scores every series with points on both sides. Counters are scored as their rates
 * (`counterRates`, the baseline's and the window's each on their own: there is a gap between
 * the two recordings); histograms use their mean (sum / count).
 */
export function scoreMetrics(window: MetricPoint[], baseline: MetricPoint[] | undefined, changeAtMs: number): MetricSeriesScore[] {
  const groups = new Map<string, { p: MetricPoint; normal: Array<[number, number]>; window: Array<[number, number]>; after: Array<[number, number]> }>();
  const add = (p: MetricPoint, fromBaseline: boolean) => {
    if (p.kind === 'counter' || LIMIT_SERIES.test(p.name)) return;
    const v = p.kind === 'histogram' || p.kind === 'summary' ? (p.count ? p.value / p.count : NaN) : p.value;
    if (!Number.isFinite(v)) return;
    const key = seriesKey(p);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { p, normal: [], window: [], after: [] }));
    (fromBaseline ? g.normal : g.window).push([p.timeMs, v]);
  };
  // Normal = the baseline recording and the window's points before the change. A point
  // reports the interval that ended at its time, so one less than an interval before the
  // change (the change time is an estimate too) may already carry the fault: it counts as after.
  if (baseline) for (const p of [...baseline, ...counterRates(baseline)]) add(p, true);
  for (const p of [...window, ...counterRates(window)]) add(p, false);
  for (const g of groups.values()) {
    g.window.sort((a, b) => a[0] - b[0]);
    const gaps: number[] = [];
    for (let i = 1; i < g.window.length; i++) gaps.push(g.window[i][0] - g.window[i - 1][0]);
    gaps.sort((a, b) => a - b);
    const interval = gaps.length ? gaps[gaps.length >> 1] : 0;
    for (const pt of g.window) (pt[0] < changeAtMs - interval ? g.normal : g.after).push(pt);
  }
  const out: MetricSeriesScore[] = [];
  for (const [key, g] of groups) {
    if (g.normal.length < MIN_NORMAL_POINTS || g.after.length === 0) continue;
    const r = robust(g.normal.map((x) => x[1]));
    const afterVals = g.after.map((x) => x[1]);
    const allEqual = r.max - r.min <= 1e-9 * Math.max(1, Math.abs(r.median)) && afterVals.every((v) => Math.abs(v - r.median) <= 1e-9 * Math.max(1, Math.abs(r.median)));
    if (allEqual) continue;
    // IQR floor: a tiny normal spread must not turn noise into a huge score. A share of a CPU
    // (CPU seconds per second, utilization) moves by at least 1 % of a core: an idle process's
    // system time going 0 -> 0.3 % of a core is not a CPU change.
    const cpuShare = /utilization/.test(g.p.name) || (metricCategory(g.p.name) === 'cpu' && g.p.unit === 's/s');
    // A whole-number gauge (requests in flight, queue depth) moves in steps of one: one step
    // is its grain, so an idle service's in-flight 0 -> 1 is not "infinitely many spreads".
    const counts = g.normal.every(([, v]) => Number.isInteger(v)) && afterVals.every(Number.isInteger);
    const spread = Math.max(r.iqr, (r.max - r.min) / 4, 0.05 * Math.abs(r.median), cpuShare ? 0.01 : 1e-6, counts ? 1 : 0);
    // Drops count less than rises (BARO looks upward only). With five or more points after
    // the change, the second most deviating one is scored: a fault lasts, and one outlier
    // against a spread estimated from a few points is how noise becomes evidence.
    const deviations = afterVals.map((v) => {
      const z = (v - r.median) / spread;
      return { v, az: z > 0 ? z : -z * 0.5, dir: (z >= 0 ? 1 : -1) as 1 | -1 };
    });
    deviations.sort((a, b) => b.az - a.az);
    const chosen = deviations[afterVals.length >= 5 ? 1 : 0];
    let best = chosen.az;
    const bestV = chosen.v, dir = chosen.dir;
    // As anomalous within the normal period? Then it is not evidence.
    let normalWorst = 0;
    for (const [, v] of g.normal) normalWorst = Math.max(normalWorst, Math.abs(v - r.median) / spread);
    if (best < SCORE_FLOOR || best < 1.5 * normalWorst) continue;
    // A series flat in normal times can say "it moved", not by how many spreads.
    if (r.iqr <= 1e-9 * Math.max(1, Math.abs(r.median))) best = Math.min(best, FLAT_SERIES_CAP);
    const p = g.p;
    out.push({
      key, name: p.name, unit: p.unit, service: p.service, instance: p.instance, host: p.host,
      category: metricCategory(p.name), before: r.median, after: bestV, score: best, direction: dir,
      points: [...g.normal.slice(-10), ...g.after].sort((a, b) => a[0] - b[0]),
    });
  }
  out.sort((a, b) => b.score - a.score);
  return out;
}
