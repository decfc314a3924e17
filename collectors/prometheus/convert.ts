// Parsed Prometheus families -> MetricPoints, attributed to one scrape target.
// Histograms become one point per label set with OTLP-style buckets: `bucketBounds` are the
// finite `le` bounds ascending, `bucketCounts` are per-bucket (NON-cumulative) counts with one
// more entry than the bounds (the last is the +Inf bucket), `count` = `_count`, `value` = `_sum`.

import type { MetricKind, MetricPoint } from '../../model/telemetry';
import type { ParsedFamily, PromMetricType, PromSample } from './parse';

export interface TargetAttribution {
  service: string;
  instance: string;
  host: string;
  /** Target labels added to every series; they win over scraped labels of the same name,
   * which are kept as `exported_<name>` (Prometheus' honor_labels: false). */
  labels?: Record<string, string>;
}

export interface ConvertResult {
  points: MetricPoint[];
  /** Samples that could not become a point (NaN scalar values, histogram bucket without `le`...). */
  skipped: number;
}

const KIND: Record<PromMetricType, MetricKind> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  gaugehistogram: 'histogram',
  summary: 'summary',
  untyped: 'gauge',
  unknown: 'gauge',
  info: 'gauge',
  stateset: 'gauge',
};

/** Unit from the OpenMetrics `# UNIT` line, else from the conventional base-unit suffix. */
export function inferUnit(family: ParsedFamily): string {
  if (family.unit) return unitToUcum(family.unit);
  const n = family.name.replace(/_(total|count|sum|bucket|info)$/, '');
  if (n.endsWith('_seconds')) return 's';
  if (n.endsWith('_bytes')) return 'By';
  if (n.endsWith('_ratio')) return '1';
  return '';
}

function unitToUcum(u: string): string {
  if (u === 'seconds') return 's';
  if (u === 'bytes') return 'By';
  if (u === 'ratio') return '1';
  return u;
}

function labelKey(labels: Record<string, string>, omit: string): string {
  return Object.keys(labels)
    .filter((k) => k !== omit)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0001');
}

function without(labels: Record<string, string>, omit: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in labels) if (k !== omit) out[k] = labels[k];
  return out;
}

function applyTargetLabels(labels: Record<string, string>, target?: Record<string, string>): Record<string, string> {
  if (!target) return labels;
  const out: Record<string, string> = {};
  for (const k in labels) out[k in target ? `exported_${k}` : k] = labels[k];
  for (const k in target) out[k] = target[k];
  return out;
}

export function familiesToMetricPoints(families: ParsedFamily[], target: TargetAttribution, scrapeTimeMs: number): ConvertResult {
  const points: MetricPoint[] = [];
  let skipped = 0;
  const base = (name: string, unit: string, kind: MetricKind, labels: Record<string, string>, timeMs: number, value: number): MetricPoint => ({
    name,
    unit,
    kind,
    service: target.service,
    instance: target.instance,
    host: target.host,
    labels: applyTargetLabels(labels, target.labels),
    timeMs,
    value,
  });

  for (const fam of families) {
    const unit = inferUnit(fam);
    const kind = KIND[fam.type];
    if (kind === 'histogram') {
      const r = histogramPoints(fam, unit, scrapeTimeMs, base);
      points.push(...r.points);
      skipped += r.skipped;
    } else if (kind === 'summary') {
      const r = summaryPoints(fam, unit, scrapeTimeMs, base);
      points.push(...r.points);
      skipped += r.skipped;
    } else {
      for (const s of fam.samples) {
        // NaN carries no value for analyzers (prom-client's `Nan` event-loop lag before the
        // first measurement, Prometheus staleness markers): drop, count as skipped.
        if (Number.isNaN(s.value)) {
          skipped++;
          continue;
        }
        // OpenMetrics `_created` samples are metadata, not the counter's value.
        if (s.name.endsWith('_created') && s.name !== fam.name) continue;
        points.push(base(s.name, unit, kind, s.labels, s.timestampMs ?? scrapeTimeMs, s.value));
      }
    }
  }
  return { points, skipped };
}

type BaseFn = (name: string, unit: string, kind: MetricKind, labels: Record<string, string>, timeMs: number, value: number) => MetricPoint;

interface Group {
  labels: Record<string, string>;
  timeMs?: number;
  sum?: number;
  count?: number;
  buckets: Array<{ le: number; cumulative: number }>;
  quantiles: Array<{ quantile: number; value: number }>;
}

function groupSamples(fam: ParsedFamily, splitLabel: 'le' | 'quantile'): { groups: Map<string, Group>; skipped: number } {
  const groups = new Map<string, Group>();
  let skipped = 0;
  const sumSuffix = fam.type === 'gaugehistogram' ? '_gsum' : '_sum';
  const countSuffix = fam.type === 'gaugehistogram' ? '_gcount' : '_count';
  const get = (s: PromSample): Group => {
    const key = labelKey(s.labels, splitLabel);
    let g = groups.get(key);
    if (!g) {
      g = { labels: without(s.labels, splitLabel), buckets: [], quantiles: [] };
      groups.set(key, g);
    }
    if (s.timestampMs !== undefined) g.timeMs = Math.max(g.timeMs ?? -Infinity, s.timestampMs);
    return g;
  };
  for (const s of fam.samples) {
    const suffix = s.name.slice(fam.name.length);
    if (suffix === sumSuffix) get(s).sum = s.value;
    else if (suffix === countSuffix) get(s).count = s.value;
    else if (suffix === '_created') continue;
    else if (splitLabel === 'le' && suffix === '_bucket') {
      const le = s.labels.le === undefined ? undefined : Number(s.labels.le === '+Inf' ? Infinity : s.labels.le);
      if (le === undefined || Number.isNaN(le)) {
        skipped++;
        continue;
      }
      get(s).buckets.push({ le, cumulative: s.value });
    } else if (splitLabel === 'quantile' && suffix === '' && s.labels.quantile !== undefined) {
      const q = Number(s.labels.quantile);
      // An empty summary reports NaN quantiles: there is no value to keep.
      if (Number.isNaN(q) || Number.isNaN(s.value)) {
        skipped++;
        get(s);
        continue;
      }
      get(s).quantiles.push({ quantile: q, value: s.value });
    } else skipped++;
  }
  return { groups, skipped };
}

function histogramPoints(fam: ParsedFamily, unit: string, scrapeTimeMs: number, base: BaseFn): ConvertResult {
  const { groups, skipped } = groupSamples(fam, 'le');
  const points: MetricPoint[] = [];
  for (const g of groups.values()) {
    g.buckets.sort((a, b) => a.le - b.le);
    const bounds: number[] = [];
    const counts: number[] = [];
    let prev = 0;
    for (const b of g.buckets) {
      if (b.le === Infinity) continue;
      bounds.push(b.le);
      // Cumulative -> per-bucket; a decreasing cumulative count (broken exporter) clamps to 0.
      counts.push(Math.max(0, b.cumulative - prev));
      prev = Math.max(prev, b.cumulative);
    }
    const inf = g.buckets.find((b) => b.le === Infinity)?.cumulative;
    const total = g.count ?? inf ?? prev;
    counts.push(Math.max(0, (inf ?? total) - prev));
    const p = base(fam.name, unit, 'histogram', g.labels, g.timeMs ?? scrapeTimeMs, g.sum ?? NaN);
    p.count = total;
    p.bucketBounds = bounds;
    p.bucketCounts = counts;
    points.push(p);
  }
  return { points, skipped };
}

function summaryPoints(fam: ParsedFamily, unit: string, scrapeTimeMs: number, base: BaseFn): ConvertResult {
  const { groups, skipped } = groupSamples(fam, 'quantile');
  const points: MetricPoint[] = [];
  for (const g of groups.values()) {
    g.quantiles.sort((a, b) => a.quantile - b.quantile);
    const p = base(fam.name, unit, 'summary', g.labels, g.timeMs ?? scrapeTimeMs, g.sum ?? NaN);
    if (g.count !== undefined) p.count = g.count;
    p.quantiles = g.quantiles;
    points.push(p);
  }
  return { points, skipped };
}
