// Change events carried by the telemetry itself: a service instance whose resource
// attributes that name its version or configuration (service.version, config.revision,
// deployment ids, image tags, ...) take a new value inside the window. A deploy or config
// push is the most common cause of an incident, and the data says exactly when it happened.

import type { MetricPoint } from '../model/telemetry';
import type { SpanIndex } from './span-index';

/** Resource attribute keys that identify what is running, not where. */
const CHANGE_KEY = /(^|\.)(version|revision|build|commit|image|config|deploy|release)([._]|$)/i;

export interface ResourceChange {
  service: string;
  instance: string;
  key: string;
  before: string;
  after: string;
  atMs: number; // first span start with the new value
  /** Last time the old value was seen: the change happened in (sinceMs, atMs]. */
  sinceMs?: number;
}

/**
 * For each instance and version-like resource key, the time range each value was seen in.
 * Only spans whose resource object differs from the previous one of that instance are
 * looked at, so resource objects shared by a batch cost one comparison. A key with two or
 * more values is a change, dated at the first span carrying the value seen last.
 */
export function resourceChanges(idx: SpanIndex, inWindow: (i: number) => boolean): ResourceChange[] {
  const nInst = idx.instances.size;
  const lastRes: Array<object | undefined> = new Array(nInst);
  // The ranges the last resource object of each instance maps to, to extend without lookups.
  const lastRanges: Array<Array<[number, number]>> = new Array(nInst);
  // instance -> key -> value -> [first, last] start time
  const seen: Array<Map<string, Map<string, [number, number]>> | undefined> = new Array(nInst);
  const serviceOf: number[] = new Array(nInst);
  for (let i = 0; i < idx.n; i++) {
    if (!inWindow(i)) continue;
    const inst = idx.inst[i];
    const res = idx.spans[i].resource;
    const t = idx.start[i];
    if (res !== lastRes[inst]) {
      lastRes[inst] = res;
      serviceOf[inst] = idx.svc[i];
      let keys = seen[inst];
      if (!keys) seen[inst] = keys = new Map();
      const ranges: Array<[number, number]> = [];
      for (const k in res) {
        if (!CHANGE_KEY.test(k)) continue;
        const v = String(res[k]);
        let byValue = keys.get(k);
        if (!byValue) keys.set(k, (byValue = new Map()));
        let range = byValue.get(v);
        if (!range) byValue.set(v, (range = [t, t]));
        ranges.push(range);
      }
      lastRanges[inst] = ranges;
    }
    for (const range of lastRanges[inst]) {
      if (t < range[0]) range[0] = t;
      if (t > range[1]) range[1] = t;
    }
  }
  const changes: ResourceChange[] = [];
  for (let inst = 0; inst < nInst; inst++) {
    const keys = seen[inst];
    if (!keys) continue;
    for (const [key, byValue] of keys) {
      if (byValue.size < 2) continue;
      const values = [...byValue.entries()].sort((a, b) => a[1][0] - b[1][0]);
      const [after, range] = values[values.length - 1];
      changes.push({
        service: idx.services.names[serviceOf[inst]], instance: idx.instances.names[inst], key,
        before: values[values.length - 2][0], after, atMs: range[0], sinceMs: values[values.length - 2][1][1],
      });
    }
  }
  changes.sort((a, b) => a.atMs - b.atMs);
  return changes;
}

/** Metric names that count a service's configuration or version (a generation counter). */
const CHANGE_METRIC = /(^|[._])(config|version|revision|generation|deploy|release)([._]|$)/i;

/**
 * The same from metrics: a gauge named like a configuration/version counter whose value
 * steps inside the window (e.g. app.config.generation 0 -> 1), attributed to its instance.
 */
export function metricChanges(metrics: MetricPoint[], fromMs: number, toMs: number): ResourceChange[] {
  const series = new Map<string, MetricPoint[]>();
  for (const p of metrics) {
    if (!p.service || !CHANGE_METRIC.test(p.name) || p.kind === 'histogram' || p.kind === 'summary') continue;
    if (p.timeMs < fromMs || p.timeMs >= toMs) continue;
    const key = `${p.name}|${p.instance}|${JSON.stringify(p.labels)}`;
    let l = series.get(key);
    if (!l) series.set(key, (l = []));
    l.push(p);
  }
  const out: ResourceChange[] = [];
  for (const pts of series.values()) {
    pts.sort((a, b) => a.timeMs - b.timeMs);
    for (let i = 1; i < pts.length; i++) {
      if (pts[i].value !== pts[i - 1].value) {
        out.push({ service: pts[i].service, instance: pts[i].instance, key: pts[i].name, before: String(pts[i - 1].value), after: String(pts[i].value), atMs: pts[i].timeMs, sinceMs: pts[i - 1].timeMs });
        break; // the first step dates the change
      }
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}
