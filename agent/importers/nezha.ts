// Converts the Nezha dataset (IntelligentDDS/Nezha, rca_data + construct_data layout) into
// faultline's telemetry model. Pure conversion: reads the CSV/JSON files, returns spans,
// metric points, a fault-free baseline and the ground truth. Writing the incident folder is
// agent/incident's job (`faultline import nezha`).
//
// Layout (any day folder works; days and files are discovered, not listed here):
//   rca_data/<day>/<day>-fault_list.json     {"HH": [{inject_time, inject_pod, inject_type}]}
//   rca_data/<day>/trace/HH_MM_trace.csv      spans of one minute
//   rca_data/<day>/metric/<pod>_metric.csv    one row a minute per pod
//   rca_data/<day>/metric/front_service.csv   the front end's SLIs
//   construct_data/<day>/trace/*.csv          fault-free traces

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FaultKind } from '../../model/diagnosis';
import { SpanKind, StatusCode } from '../../model/telemetry';
import type { MetricPoint, Span } from '../../model/telemetry';

export interface ImportedIncident {
  id: string;
  truth: { service: string; instance?: string; kind: FaultKind; start: string /* ISO */ };
  description: string;
  spans: Span[];
  metrics: MetricPoint[];
  baseline: { spans: Span[]; metrics: MetricPoint[] };
}

export interface NezhaFault {
  day: string; // '2023-01-29'
  hour: string; // '08', the key in the fault list
  index: number; // position within that hour's list
  injectTime: string; // ISO UTC, from inject_time (inject_timestamp is unreliable on TT)
  pod: string;
  type: string; // inject_type as written: exception, return, cpu_contention, network_delay, ...
}

/** How long an injected fault lasts in this dataset (three minute-files of traces). */
const FAULT_DURATION_MS = 3 * 60_000;
/** Most fault-free metric rows taken for a baseline (one a minute). */
const BASELINE_METRIC_ROWS = 15;

const KIND_OF_TYPE: Record<string, FaultKind> = {
  exception: 'error',
  return: 'error',
  cpu_contention: 'cpu',
  cpu_consumed: 'cpu',
  network_delay: 'delay',
  network_loss: 'loss',
  memory_consumed: 'memory',
};

/** Service of a Kubernetes pod: the pod name without its two generated suffixes. */
export function serviceOfPod(pod: string): string {
  const parts = pod.split('-');
  return parts.length > 2 ? parts.slice(0, -2).join('-') : pod;
}

export function nezhaKind(type: string): FaultKind {
  return KIND_OF_TYPE[type] ?? 'unknown';
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`nezha: cannot read ${what} ${file}${code ? ` (${code})` : ''}`);
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** inject_time '2023-01-30 11:51:46' (UTC wall clock) -> epoch ms. */
function parseInjectTime(s: string, where: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(s.trim());
  if (!m) throw new Error(`nezha: ${where}: inject_time "${s}" is not "YYYY-MM-DD HH:MM:SS"`);
  return Date.parse(`${m[1]}T${m[2]}Z`);
}

/** Every fault of every day under rca_data, in time order. */
export function listNezhaFaults(nezhaRoot: string): NezhaFault[] {
  const rca = path.join(nezhaRoot, 'rca_data');
  if (!fs.existsSync(rca)) throw new Error(`nezha: no rca_data folder in ${nezhaRoot}`);
  const faults: NezhaFault[] = [];
  for (const day of listDir(rca)) {
    if (!DAY_RE.test(day)) continue;
    const file = path.join(rca, day, `${day}-fault_list.json`);
    if (!fs.existsSync(file)) continue; // a day without ground truth is not an incident set
    let list: Record<string, Array<Record<string, string>>>;
    try {
      list = JSON.parse(readText(file, 'fault list'));
    } catch (err) {
      throw new Error(`nezha: ${file}: ${(err as Error).message}`);
    }
    for (const hour of Object.keys(list).sort()) {
      const entries = list[hour];
      if (!Array.isArray(entries)) throw new Error(`nezha: ${file}: hour "${hour}" is not a list`);
      entries.forEach((e, index) => {
        const where = `${file} hour ${hour} entry ${index}`;
        if (!e || typeof e.inject_pod !== 'string' || typeof e.inject_type !== 'string' || typeof e.inject_time !== 'string') {
          throw new Error(`nezha: ${where}: needs inject_time, inject_pod and inject_type`);
        }
        const ms = parseInjectTime(e.inject_time, where);
        faults.push({ day, hour, index, injectTime: new Date(ms).toISOString().replace('.000Z', 'Z'), pod: e.inject_pod, type: e.inject_type });
      });
    }
  }
  faults.sort((a, b) => Date.parse(a.injectTime) - Date.parse(b.injectTime));
  return faults;
}

/** Epoch ns as a decimal string -> ms float, without losing the sub-ms part. */
function nsStringToMs(s: string): number {
  if (s.length <= 6) return Number(s) / 1e6;
  return Number(s.slice(0, -6)) + Number(s.slice(-6)) / 1e6;
}

/** Exact ns difference of two epoch-ns strings, in ms. */
function nsDiffMs(end: string, start: string): number {
  const cut = (x: string) => (x.length > 9 ? [Number(x.slice(0, -9)), Number(x.slice(-9))] : [0, Number(x)]);
  const [es, en] = cut(end);
  const [ss, sn] = cut(start);
  return ((es - ss) * 1e9 + (en - sn)) / 1e6;
}

interface RawSpan {
  traceId: string;
  spanId: string;
  parent: string;
  pod: string;
  name: string;
  startMs: number;
  durationMs: number;
}

/** Reads one trace CSV; malformed rows (the dataset has one glued to a header) are skipped and counted. */
function readTraceCsv(file: string, out: RawSpan[]): number {
  const text = readText(file, 'trace file');
  const lines = text.split('\n');
  const header = lines[0]?.trim().split(',') ?? [];
  const col = (n: string) => header.indexOf(n);
  const iT = col('TraceID'), iS = col('SpanID'), iP = col('ParentID'), iPod = col('PodName'), iOp = col('OperationName');
  const iStart = col('StartTimeUnixNano'), iEnd = col('EndTimeUnixNano');
  if ([iT, iS, iP, iPod, iOp, iStart, iEnd].some((i) => i < 0)) {
    throw new Error(`nezha: ${file}: header must have TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano`);
  }
  let skipped = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length < 10) continue;
    const f = line.split(',');
    const start = f[iStart], end = f[iEnd];
    if (f.length < header.length || !/^\d+$/.test(start ?? '') || !/^\d+/.test(end ?? '')) {
      skipped++;
      continue;
    }
    const endDigits = /^\d+/.exec(end)![0];
    out.push({
      traceId: f[iT],
      spanId: f[iS],
      parent: f[iP] === 'root' ? '' : f[iP],
      pod: f[iPod],
      name: f[iOp],
      startMs: nsStringToMs(start),
      durationMs: Math.max(0, nsDiffMs(endDigits, start)),
    });
  }
  return skipped;
}

/**
 * Nezha spans carry no kind: derive it from the structure. A root span or one whose parent
 * runs in another service is where a request enters a service (SERVER); a span with a child
 * in another service made that call (CLIENT); anything else is INTERNAL. Status stays UNSET:
 * the dataset records no status.
 */
function toSpans(raw: RawSpan[], hostOfPod: Map<string, string>): Span[] {
  const podOf = new Map<string, string>();
  for (const r of raw) podOf.set(r.traceId + r.spanId, r.pod);
  const callsOut = new Set<string>();
  for (const r of raw) {
    if (!r.parent) continue;
    const parentPod = podOf.get(r.traceId + r.parent);
    if (parentPod !== undefined && serviceOfPod(parentPod) !== serviceOfPod(r.pod)) callsOut.add(r.traceId + r.parent);
  }
  const spans: Span[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i];
    const service = serviceOfPod(r.pod);
    const parentPod = r.parent ? podOf.get(r.traceId + r.parent) : undefined;
    let kind: SpanKind = SpanKind.INTERNAL;
    if (!r.parent || (parentPod !== undefined && serviceOfPod(parentPod) !== service)) kind = SpanKind.SERVER;
    else if (callsOut.has(r.traceId + r.spanId)) kind = SpanKind.CLIENT;
    spans[i] = {
      traceId: r.traceId,
      spanId: r.spanId,
      parentSpanId: r.parent,
      service,
      instance: r.pod,
      host: hostOfPod.get(r.pod) ?? '',
      name: r.name,
      kind,
      startMs: r.startMs,
      durationMs: r.durationMs,
      status: StatusCode.UNSET,
      statusMessage: '',
      attributes: {},
      resource: { 'k8s.pod.name': r.pod },
      exceptionCount: 0,
    };
  }
  return spans;
}

// ---- metrics -------------------------------------------------------------------------

interface MetricTable {
  pod: string; // '' for front_service.csv
  columns: Array<{ name: string; unit: string; node: boolean }>;
  times: number[]; // ms
  rows: number[][]; // per row, per column
}

const UNIT_OF: Record<string, string> = { '%': '%', s: 's', Mi: 'MiBy', m: '{millicore}', Ops: '{ops}/s', ms: 'ms' };

function parseColumn(header: string): { name: string; unit: string } {
  const m = /^(.*)\(([^)]*)\)$/.exec(header.trim());
  if (!m) return { name: header.trim(), unit: '' };
  return { name: m[1], unit: UNIT_OF[m[2]] ?? m[2] };
}

function readMetricCsv(file: string): MetricTable {
  const lines = readText(file, 'metric file').split('\n');
  const header = lines[0]?.trim().split(',') ?? [];
  const iTs = header.indexOf('TimeStamp');
  if (iTs < 0) throw new Error(`nezha: ${file}: header has no TimeStamp column`);
  const skip = new Set(['Time', 'TimeStamp', 'PodName', 'ServiceName']);
  const valueCols: number[] = [];
  const columns: MetricTable['columns'] = [];
  header.forEach((h, i) => {
    if (skip.has(h)) return;
    valueCols.push(i);
    const c = parseColumn(h);
    columns.push({ ...c, node: c.name.startsWith('Node') });
  });
  const iPod = header.indexOf('PodName');
  let pod = '';
  const times: number[] = [];
  const rows: number[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].trim().split(',');
    if (f.length < header.length) continue;
    const ts = Number(f[iTs]);
    if (!Number.isFinite(ts)) continue;
    if (iPod >= 0 && !pod) pod = f[iPod];
    times.push(ts * 1000);
    rows.push(valueCols.map((c) => Number(f[c])));
  }
  return { pod, columns, times, rows };
}

interface DayMetrics {
  pods: MetricTable[];
  front?: MetricTable;
  hostOfPod: Map<string, string>;
}

/**
 * The dataset names no node, but node-level columns (NodeCpuUsageRate, ...) read the same
 * value for every pod on one node: pods whose node readings agree over the first rows share
 * a host. Hosts are named by that inference ('node-1', ...), in order of first pod name.
 */
function inferHosts(pods: MetricTable[]): Map<string, string> {
  const bySignature = new Map<string, string[]>();
  for (const t of pods) {
    const nodeCols = t.columns.map((c, i) => (c.node ? i : -1)).filter((i) => i >= 0);
    if (nodeCols.length === 0 || t.rows.length === 0) continue;
    const parts: string[] = [];
    let nonZero = false;
    for (let r = 0; r < Math.min(5, t.rows.length); r++) {
      parts.push(String(Math.round(t.times[r] / 60_000)));
      for (const c of nodeCols) {
        const v = t.rows[r][c];
        if (v !== 0 && Number.isFinite(v)) nonZero = true;
        parts.push(Number.isFinite(v) ? v.toPrecision(8) : 'nan');
      }
    }
    if (!nonZero) continue;
    const sig = parts.join('|');
    const list = bySignature.get(sig) ?? [];
    list.push(t.pod);
    bySignature.set(sig, list);
  }
  const groups = [...bySignature.values()].map((l) => l.sort()).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const hostOfPod = new Map<string, string>();
  groups.forEach((g, i) => g.forEach((pod) => hostOfPod.set(pod, `node-${i + 1}`)));
  return hostOfPod;
}

const dayMetricsCache = new Map<string, DayMetrics>();

function loadDayMetrics(metricDir: string): DayMetrics {
  const cached = dayMetricsCache.get(metricDir);
  if (cached) return cached;
  if (!fs.existsSync(metricDir)) throw new Error(`nezha: metric folder ${metricDir} is missing`);
  const pods: MetricTable[] = [];
  let front: MetricTable | undefined;
  for (const f of listDir(metricDir)) {
    if (!f.endsWith('.csv')) continue;
    const file = path.join(metricDir, f);
    if (f === 'front_service.csv') front = readMetricCsv(file);
    else if (f.endsWith('_metric.csv')) {
      const t = readMetricCsv(file);
      if (!t.pod) t.pod = f.slice(0, -'_metric.csv'.length);
      pods.push(t);
    }
  }
  const dm = { pods, front, hostOfPod: inferHosts(pods) };
  if (dayMetricsCache.size > 4) dayMetricsCache.delete(dayMetricsCache.keys().next().value!);
  dayMetricsCache.set(metricDir, dm);
  return dm;
}

/** Metric rows whose time passes `keep`, as gauge points; node columns once per inferred host. */
function metricPoints(dm: DayMetrics, keep: (tMs: number) => boolean): MetricPoint[] {
  const out: MetricPoint[] = [];
  const hostDone = new Set<string>();
  for (const t of dm.pods) {
    const service = serviceOfPod(t.pod);
    const host = dm.hostOfPod.get(t.pod) ?? '';
    for (let r = 0; r < t.times.length; r++) {
      const timeMs = t.times[r];
      if (!keep(timeMs)) continue;
      t.columns.forEach((c, i) => {
        const value = t.rows[r][i];
        if (!Number.isFinite(value)) return;
        if (c.node) {
          if (!host) return; // a node reading we cannot attribute to a host
          const key = `${host}|${c.name}|${timeMs}`;
          if (hostDone.has(key)) return;
          hostDone.add(key);
          out.push({ name: c.name, unit: c.unit, kind: 'gauge', service: '', instance: host, host, labels: {}, timeMs, value });
        } else {
          out.push({ name: c.name, unit: c.unit, kind: 'gauge', service, instance: t.pod, host, labels: {}, timeMs, value });
        }
      });
    }
  }
  // The front end's SLIs belong to no pod: keep them unattributed (service '', host ''),
  // usable to see when behaviour changed, never a root-cause candidate.
  if (dm.front) {
    const t = dm.front;
    for (let r = 0; r < t.times.length; r++) {
      if (!keep(t.times[r])) continue;
      t.columns.forEach((c, i) => {
        const value = t.rows[r][i];
        if (Number.isFinite(value)) {
          out.push({ name: `front.${c.name}`, unit: c.unit, kind: 'gauge', service: '', instance: '', host: '', labels: { view: 'front_service' }, timeMs: t.times[r], value });
        }
      });
    }
  }
  return out;
}

// ---- incident ------------------------------------------------------------------------

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Trace files of a fault: the minute of injection and the next two (HH_MM_trace.csv). */
function traceFilesOf(dayDir: string, injectMs: number): string[] {
  const files: string[] = [];
  for (let k = 0; k < 3; k++) {
    const d = new Date(injectMs + k * 60_000);
    files.push(path.join(dayDir, 'trace', `${pad2(d.getUTCHours())}_${pad2(d.getUTCMinutes())}_trace.csv`));
  }
  return files;
}

/** construct_data day nearest to `day` that has fault-free traces (same day first). */
function nearestConstructDay(nezhaRoot: string, day: string): string | undefined {
  const dir = path.join(nezhaRoot, 'construct_data');
  const days = listDir(dir).filter((d) => DAY_RE.test(d) && listDir(path.join(dir, d, 'trace')).some((f) => f.endsWith('.csv')));
  if (days.length === 0) return undefined;
  const t = Date.parse(day);
  days.sort((a, b) => Math.abs(Date.parse(a) - t) - Math.abs(Date.parse(b) - t) || (a < b ? -1 : 1));
  return days[0];
}

export function loadNezhaIncident(nezhaRoot: string, fault: NezhaFault): ImportedIncident {
  const injectMs = Date.parse(fault.injectTime);
  if (!Number.isFinite(injectMs)) throw new Error(`nezha: fault ${fault.day}/${fault.hour}/${fault.index}: bad injectTime "${fault.injectTime}"`);
  const dayDir = path.join(nezhaRoot, 'rca_data', fault.day);
  const dm = loadDayMetrics(path.join(dayDir, 'metric'));

  const raw: RawSpan[] = [];
  let skipped = 0;
  for (const file of traceFilesOf(dayDir, injectMs)) {
    if (!fs.existsSync(file)) throw new Error(`nezha: trace file ${file} for the fault at ${fault.injectTime} is missing`);
    skipped += readTraceCsv(file, raw);
  }
  if (raw.length === 0) throw new Error(`nezha: no spans in the trace files of the fault at ${fault.injectTime}`);
  const spans = toSpans(raw, dm.hostOfPod);
  let fromMs = Infinity, toMs = -Infinity;
  for (const s of spans) {
    if (s.startMs < fromMs) fromMs = s.startMs;
    if (s.startMs + s.durationMs > toMs) toMs = s.startMs + s.durationMs;
  }
  // A metric row summarises the minute before it: keep rows up to a minute past the last span.
  const metrics = metricPoints(dm, (t) => t >= fromMs && t < toMs + 60_000);

  // Baseline metrics: rows before the window and clear of every fault of the day (a fault
  // lasts ~3 min; its rows up to a minute later still show it), the most recent ones.
  const faultsOfDay = listNezhaFaults(nezhaRoot).filter((f) => f.day === fault.day).map((f) => Date.parse(f.injectTime));
  const faultFree = (t: number) => faultsOfDay.every((f) => t < f || t > f + FAULT_DURATION_MS + 90_000);
  const candidateTimes = new Set<number>();
  for (const t of dm.pods[0]?.times ?? []) if (t < fromMs && faultFree(t)) candidateTimes.add(Math.round(t / 60_000));
  const minutes = [...candidateTimes].sort((a, b) => b - a).slice(0, BASELINE_METRIC_ROWS);
  const minuteSet = new Set(minutes);
  const baselineMetrics = metricPoints(dm, (t) => minuteSet.has(Math.round(t / 60_000)));

  // Baseline traces: construct_data of the same day, else the nearest day with fault-free traces.
  const constructDay = nearestConstructDay(nezhaRoot, fault.day);
  const baseRaw: RawSpan[] = [];
  if (constructDay) {
    const dir = path.join(nezhaRoot, 'construct_data', constructDay, 'trace');
    for (const f of listDir(dir)) if (f.endsWith('.csv')) readTraceCsv(path.join(dir, f), baseRaw);
  }
  const baseHosts = constructDay === fault.day ? dm.hostOfPod : new Map<string, string>();
  const baselineSpans = toSpans(baseRaw, baseHosts);

  const service = serviceOfPod(fault.pod);
  const kind = nezhaKind(fault.type);
  const id = `nezha-tt-${fault.day}-${fault.injectTime.slice(11, 13)}${fault.injectTime.slice(14, 16)}-${fault.type}`;
  const notes = [
    `Nezha TrainTicket fault: ${fault.type} injected into pod ${fault.pod} at ${fault.injectTime}.`,
    `Spans from ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()} (${spans.length}${skipped ? `, ${skipped} malformed rows skipped` : ''}).`,
    constructDay ? `Baseline traces: construct_data/${constructDay}${constructDay !== fault.day ? ' (nearest day with fault-free traces)' : ''}; baseline metrics: ${minutes.length} fault-free minutes before the fault.` : 'No fault-free traces found for a baseline.',
    'Span kinds derived from the call structure; status unset (the dataset records none); hosts inferred from identical node-level readings.',
  ];
  return {
    id,
    truth: { service, instance: fault.pod, kind, start: fault.injectTime },
    description: notes.join(' '),
    spans,
    metrics,
    baseline: { spans: baselineSpans, metrics: baselineMetrics },
  };
}
