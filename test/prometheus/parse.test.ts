import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics, type OpenMetricsContentType } from 'prom-client';
import { familiesToMetricPoints } from '../../collectors/prometheus/convert';
import { parsePrometheusText, type ParsedFamily } from '../../collectors/prometheus/parse';

const target = { service: 'recsys-ranker', instance: '10.0.0.7:9100', host: '10.0.0.7' };

function family(fams: ParsedFamily[], name: string): ParsedFamily {
  const f = fams.find((x) => x.name === name);
  if (!f) throw new Error(`family ${name} not found in ${fams.map((x) => x.name).join(',')}`);
  return f;
}

describe('parsePrometheusText on prom-client output', () => {
  let registry: Registry;
  beforeEach(() => {
    registry = new Registry();
  });

  it('parses counters, gauges, histograms and summaries with their types and label escapes', async () => {
    const c = new Counter({ name: 'http_requests_total', help: 'Requests with "quotes" and \\ backslash', labelNames: ['route', 'code'], registers: [registry] });
    c.inc({ route: '/rank', code: '200' }, 41);
    c.inc({ route: 'we"ird\\path\nline2', code: '500' }, 2);
    const g = new Gauge({ name: 'queue_depth', help: 'depth', registers: [registry] });
    g.set(-3.5);
    const h = new Histogram({ name: 'rank_latency_seconds', help: 'latency', labelNames: ['model'], buckets: [0.01, 0.05, 0.1], registers: [registry] });
    for (const v of [0.004, 0.02, 0.03, 0.07, 0.5]) h.observe({ model: 'dlrm' }, v);
    const s = new Summary({ name: 'feature_fetch_seconds', help: 'fetch', percentiles: [0.5, 0.99], registers: [registry] });
    for (let i = 1; i <= 100; i++) s.observe(i / 1000);

    const { families, errors } = parsePrometheusText(await registry.metrics());
    expect(errors).toEqual([]);

    const counter = family(families, 'http_requests_total');
    expect(counter.type).toBe('counter');
    expect(counter.help).toBe('Requests with "quotes" and \\ backslash');
    const weird = counter.samples.find((x) => x.labels.code === '500');
    expect(weird?.labels.route).toBe('we"ird\\path\nline2');
    expect(weird?.value).toBe(2);

    expect(family(families, 'queue_depth')).toMatchObject({ type: 'gauge', samples: [{ value: -3.5 }] });

    const hist = family(families, 'rank_latency_seconds');
    expect(hist.type).toBe('histogram');
    expect(hist.samples.filter((x) => x.name === 'rank_latency_seconds_bucket')).toHaveLength(4);

    const points = familiesToMetricPoints(families, target, 1_700_000_000_000).points;
    const hp = points.filter((p) => p.name === 'rank_latency_seconds');
    expect(hp).toHaveLength(1);
    expect(hp[0]).toMatchObject({ kind: 'histogram', unit: 's', count: 5, bucketBounds: [0.01, 0.05, 0.1], bucketCounts: [1, 2, 1, 1], labels: { model: 'dlrm' } });
    expect(hp[0].value).toBeCloseTo(0.624, 9);

    const sp = points.find((p) => p.name === 'feature_fetch_seconds');
    expect(sp).toMatchObject({ kind: 'summary', count: 100 });
    expect(sp?.quantiles?.map((q) => q.quantile)).toEqual([0.5, 0.99]);
    expect(sp?.quantiles?.[0].value).toBeCloseTo(0.0505, 3);
    expect(sp?.value).toBeCloseTo(5.05, 9);

    const cp = points.filter((p) => p.name === 'http_requests_total');
    expect(cp.every((p) => p.kind === 'counter' && p.service === 'recsys-ranker' && p.instance === '10.0.0.7:9100')).toBe(true);
    expect(cp.map((p) => p.value).sort((a, b) => a - b)).toEqual([2, 41]);
  });

  it('parses prom-client default metrics including its `Nan` values without errors', async () => {
    collectDefaultMetrics({ register: registry });
    const text = await registry.metrics();
    const { families, errors } = parsePrometheusText(text);
    expect(errors).toEqual([]);
    const sampleLines = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    expect(families.reduce((n, f) => n + f.samples.length, 0)).toBe(sampleLines);
    expect(family(families, 'process_cpu_user_seconds_total').type).toBe('counter');
    expect(text).toMatch(/ Nan$/m); // nodejs_eventloop_lag_*_seconds before the first measurement
    expect(family(families, 'nodejs_eventloop_lag_mean_seconds').type).toBe('gauge');
    const points = familiesToMetricPoints(families, target, 0).points;
    expect(points.every((p) => !Number.isNaN(p.value) || p.kind === 'histogram' || p.kind === 'summary')).toBe(true);
  });

  it('skips OpenMetrics exemplars and stops at # EOF', async () => {
    const om = new Registry<OpenMetricsContentType>();
    om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const c = new Counter({ name: 'recs_served', help: 'served', labelNames: ['slot'], registers: [om], enableExemplars: true });
    c.inc({ labels: { slot: 'home' }, value: 3, // exemplar label names are free-form; prom-client's typing ties them to labelNames
      exemplarLabels: { trace_id: 'abc123', span_id: 'def' } as unknown as Record<'slot', string> });
    const text = (await om.metrics()) + 'garbage after eof {{{\n';
    expect(text).toContain('# {');
    const { families, errors } = parsePrometheusText(text, { openMetrics: true });
    expect(errors).toEqual([]);
    const f = family(families, 'recs_served');
    expect(f.type).toBe('counter');
    const total = f.samples.find((x) => x.name === 'recs_served_total');
    expect(total).toMatchObject({ value: 3, labels: { slot: 'home' } });
    expect(total?.timestampMs).toBeUndefined();
  });
});

describe('parsePrometheusText on a recorded node_exporter scrape', () => {
  const text = readFileSync(join(__dirname, '../fixtures-data/prometheus/node-exporter-sample.txt'), 'utf8');

  it('keeps every sample with its family type', () => {
    const { families, errors } = parsePrometheusText(text);
    expect(errors).toEqual([]);
    expect(families.reduce((n, f) => n + f.samples.length, 0)).toBe(text.split('\n').filter((l) => l && !l.startsWith('#')).length);
    expect(family(families, 'node_cpu_seconds_total').samples).toHaveLength(16);
    expect(family(families, 'node_vmstat_pgmajfault').type).toBe('untyped');
    expect(family(families, 'go_gc_duration_seconds').type).toBe('summary');
    expect(family(families, 'node_uname_info').samples[0].labels.version).toBe('#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)');
    expect(Number.isNaN(family(families, 'node_hwmon_temp_celsius').samples[0].value)).toBe(true);
  });

  it('converts to points: NaN gauge dropped, histogram de-cumulated, untyped as gauge', () => {
    const { families } = parsePrometheusText(text);
    const { points, skipped } = familiesToMetricPoints(families, { ...target, labels: { job: 'node' } }, 42);
    expect(skipped).toBe(1);
    expect(points.find((p) => p.name === 'node_hwmon_temp_celsius')).toBeUndefined();
    expect(points.find((p) => p.name === 'node_vmstat_pgmajfault')).toMatchObject({ kind: 'gauge', value: 4211, timeMs: 42 });
    expect(points.find((p) => p.name === 'node_load1')?.labels).toEqual({ job: 'node' });
    const h = points.find((p) => p.name === 'prometheus_http_request_duration_seconds');
    expect(h).toMatchObject({ count: 10322, value: 211.83, bucketBounds: [0.1, 0.2, 0.4, 1], bucketCounts: [10301, 17, 3, 1, 0] });
    const bytes = points.find((p) => p.name === 'node_disk_read_bytes_total');
    expect(bytes).toMatchObject({ unit: 'By', kind: 'counter' });
  });
});

describe('parsePrometheusText edge cases', () => {
  it('reads NaN/Nan/±Inf, timestamps, blank labels, trailing commas and CRLF', () => {
    const text = [
      '# TYPE a gauge',
      'a{x="1"} Nan',
      'a{x="2"} +Inf 1700000000123',
      'a{x="3",} -Inf',
      'a{x=""} 1e-3',
      'a { x = "5" } 7 \r',
      'b 0x10',
      '',
    ].join('\n');
    const { families, errors } = parsePrometheusText(text);
    expect(errors).toEqual([]);
    const a = family(families, 'a').samples;
    expect(Number.isNaN(a[0].value)).toBe(true);
    expect(a[1]).toMatchObject({ value: Infinity, timestampMs: 1700000000123 });
    expect(a[2].value).toBe(-Infinity);
    expect(a[3]).toMatchObject({ labels: { x: '' }, value: 0.001 });
    expect(a[4]).toMatchObject({ labels: { x: '5' }, value: 7 });
    expect(family(families, 'b')).toMatchObject({ type: 'untyped', samples: [{ value: 16 }] });
  });

  it('skips and names each malformed line, keeping the good ones', () => {
    const text = [
      '# TYPE ok counter', // 1
      'ok 1', // 2
      'bad{x="unterminated} 1', // 3
      'novalue{x="1"}', // 4
      'ok{y="2"} abc', // 5
      '9starts_with_digit 1', // 6
      '# TYPE weird flavour', // 7
      'dup{a="1",a="2"} 1', // 8
      'ok{z="3"} 3 notatime', // 9
      'ok{z="4"} 4', // 10
    ].join('\n');
    const { families, errors } = parsePrometheusText(text);
    expect(errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(errors[0].message).toMatch(/unterminated/);
    expect(errors[1].message).toMatch(/missing value/);
    expect(errors[2].message).toMatch(/invalid value "abc"/);
    expect(errors[3].message).toMatch(/invalid metric name/);
    expect(errors[4].message).toMatch(/unknown type "flavour"/);
    expect(errors[5].message).toMatch(/duplicate label "a"/);
    expect(errors[6].message).toMatch(/invalid timestamp/);
    expect(family(families, 'ok').samples.map((s) => s.value)).toEqual([1, 4]);
  });

  it('groups histogram label sets separately and reads UTF-8 quoted names', () => {
    const text = [
      '# TYPE lat histogram',
      'lat_bucket{svc="a",le="1"} 2',
      'lat_bucket{svc="a",le="+Inf"} 3',
      'lat_sum{svc="a"} 4.5',
      'lat_count{svc="a"} 3',
      'lat_bucket{svc="b",le="1"} 0',
      'lat_bucket{svc="b",le="+Inf"} 1',
      'lat_sum{svc="b"} 9',
      'lat_count{svc="b"} 1',
      '{"my.dotted.metric",k="v"} 5',
    ].join('\n');
    const { families, errors } = parsePrometheusText(text);
    expect(errors).toEqual([]);
    const points = familiesToMetricPoints(families, target, 0).points;
    const lat = points.filter((p) => p.name === 'lat');
    expect(lat.map((p) => [p.labels.svc, p.bucketCounts, p.count, p.value])).toEqual([
      ['a', [2, 1], 3, 4.5],
      ['b', [0, 1], 1, 9],
    ]);
    expect(points.find((p) => p.name === 'my.dotted.metric')).toMatchObject({ value: 5, labels: { k: 'v' } });
  });

  it('renames scraped labels that clash with target labels to exported_<name>', () => {
    const { families } = parsePrometheusText('m{job="app",x="1"} 1\n');
    const [p] = familiesToMetricPoints(families, { ...target, labels: { job: 'ranker' } }, 0).points;
    expect(p.labels).toEqual({ job: 'ranker', exported_job: 'app', x: '1' });
  });
});

describe('parsePrometheusText round-trips whatever prom-client writes', () => {
  it('label values and HELP text of any content survive escaping (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.double({ noNaN: true })), { minLength: 1, maxLength: 5 }),
        fc.string({ maxLength: 40 }),
        async (series, help) => {
          const registry = new Registry();
          const g = new Gauge({ name: 'prop_gauge', help: help || 'h', labelNames: ['v'], registers: [registry] });
          const expected = new Map<string, number>();
          for (const [v, x] of series) {
            g.set({ v }, x);
            expected.set(v, x + 0); // prom-client writes -0 as 0
          }
          const { families, errors } = parsePrometheusText(await registry.metrics());
          expect(errors).toEqual([]);
          const f = family(families, 'prop_gauge');
          expect(f.help).toBe(help || 'h');
          expect(new Map(f.samples.map((s) => [s.labels.v, s.value]))).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
