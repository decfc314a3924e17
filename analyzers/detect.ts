// Change detection over the service-level SLIs carried by spans: latency (log duration of
// entry spans), error ratio per service, and throughput at the entry points. Finds the
// split of the window that best separates "normal" from "changed" (normal = the baseline
// plus the part before the split when a baseline exists, else the part before the split
// only) with two-sample tests on prefix sums, so one pass over the spans and O(series x
// buckets) after it: cheap enough for the live sidecar to call every few seconds.

import type { AnomalyReport } from '../model/diagnosis';
import type { MetricPoint, Snapshot, Span } from '../model/telemetry';
import { seriesKey } from '../model/telemetry';
import { counterRates, metricCategory } from './metrics';
import { quantileSorted, sortedCopy } from './stats';
// Local copies of the model's enums: hot loops should not go through module getters.
const K_CONSUMER = 5;
const K_SERVER = 2;
const S_ERROR = 2;

export interface ChangeDetection extends AnomalyReport {
  /** Total strength of the change at the chosen split (0 when none). */
  strength: number;
  bucketMs: number;
}

/** Bucket width: about 60 buckets over the window, between 1 s and 60 s. */
export function bucketWidth(windowMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.round(windowMs / 60 / 1000) * 1000));
}

// A change must be this large to count, whatever the sample size: 20 % latency, 2 points
// of error ratio, 30 % throughput. Below that, big samples make any drift "significant".
const MIN_LOG_LATENCY_SHIFT = Math.log(1.2);
const MIN_ERROR_SHIFT = 0.02;
const MIN_RATE_SHIFT = 0.3;
const Z_FLOOR = 3; // per-signal z below this adds nothing
const Z_CAP = 12; // one loud series cannot outvote the rest alone
const DETECT_THRESHOLD = 6;
const ECHO_WEIGHT = 0.5; // weight of all but the strongest series in a split's strength

function isEntrySpan(s: Span): boolean {
  return s.kind === K_SERVER || s.kind === K_CONSUMER || s.parentSpanId === '';
}

interface Series {
  cnt: Float64Array;
  sum: Float64Array; // sum of log(duration ms)
  sum2: Float64Array;
  err: Float64Array;
  root: Float64Array; // root spans (entry-point throughput)
  bCnt: number;
  bSum: number;
  bSum2: number;
  bErr: number;
  bRoot: number;
  /**
   * Prefix sums over buckets holding spans of the bucket's mean log duration, its square,
   * and the number of such buckets: the bucket-to-bucket spread of latency (set only when
   * the caller asks for between-bucket variance).
   */
  bm?: Float64Array;
  bm2?: Float64Array;
  bk?: Float64Array;
  /** Prefix count of the spans in sum/sum2 when not all of cnt (latency of successful spans only). */
  lcnt?: Float64Array;
}

function newSeries(nb: number): Series {
  return {
    cnt: new Float64Array(nb + 1), sum: new Float64Array(nb + 1), sum2: new Float64Array(nb + 1),
    err: new Float64Array(nb + 1), root: new Float64Array(nb + 1),
    bCnt: 0, bSum: 0, bSum2: 0, bErr: 0, bRoot: 0,
  };
}

function logDur(d: number): number {
  return Math.log(d > 0.01 ? d : 0.01);
}

/** A named series of the detector, in iteration order. */
interface NamedSeries {
  service: string;
  /** undefined: the service's root-span (throughput) series. */
  operation: string | undefined;
  s: Series;
}

const ROOTS = '\u0001roots';

/** `forceChangeAtMs`: skip the search and report the signals at that split. */
export function detectChange(snapshot: Snapshot, forceChangeAtMs?: number): ChangeDetection {
  const { fromMs, toMs } = windowOf(snapshot);
  const bucketMs = bucketWidth(toMs - fromMs);
  const nb = Math.max(1, Math.ceil((toMs - fromMs) / bucketMs));
  // Latency and errors per entry operation (a shift in the mix of operations is not a
  // change of any of them); throughput per service at the roots.
  const series: NamedSeries[] = [];
  const byService = new Map<string, Map<string, Series>>();
  const get = (service: string, op: string) => {
    let m = byService.get(service);
    if (!m) byService.set(service, (m = new Map()));
    let s = m.get(op);
    if (!s) {
      m.set(op, (s = newSeries(nb)));
      series.push({ service, operation: op === ROOTS ? undefined : op, s });
    }
    return s;
  };
  for (const sp of snapshot.spans) {
    if (!isEntrySpan(sp)) continue;
    let b = Math.floor((sp.startMs - fromMs) / bucketMs);
    if (b < 0 || b >= nb) continue;
    const s = get(sp.service, sp.name);
    const l = logDur(sp.durationMs);
    b += 1; // prefix-sum layout: bucket b lives at b+1
    s.cnt[b]++;
    s.sum[b] += l;
    s.sum2[b] += l * l;
    if (sp.status === S_ERROR || sp.exceptionCount > 0) s.err[b]++;
    if (sp.parentSpanId === '') get(sp.service, ROOTS).root[b]++;
  }
  let baselineMs = 0;
  const base = snapshot.baseline?.spans ?? [];
  if (base.length) {
    let bMin = Infinity, bMax = -Infinity;
    for (const sp of base) {
      if (!isEntrySpan(sp)) continue;
      if (sp.startMs < bMin) bMin = sp.startMs;
      if (sp.startMs > bMax) bMax = sp.startMs;
      const s = get(sp.service, sp.name);
      const l = logDur(sp.durationMs);
      s.bCnt++;
      s.bSum += l;
      s.bSum2 += l * l;
      if (sp.status === S_ERROR || sp.exceptionCount > 0) s.bErr++;
      if (sp.parentSpanId === '') get(sp.service, ROOTS).bRoot++;
    }
    baselineMs = bMax > bMin ? bMax - bMin : 0;
  }
  for (const { s } of series) toPrefixSums(s, nb);
  return searchSplit(series, fromMs, nb, bucketMs, baselineMs, { forceChangeAtMs });
}

function toPrefixSums(s: Series, nb: number): void {
  for (let b = 1; b <= nb; b++) {
    s.cnt[b] += s.cnt[b - 1];
    s.sum[b] += s.sum[b - 1];
    s.sum2[b] += s.sum2[b - 1];
    s.err[b] += s.err[b - 1];
    s.root[b] += s.root[b - 1];
  }
}

/**
 * Per-bucket sums of entry spans for one series, oldest bucket first, as the live store
 * keeps them (agent/store/operation-aggregates.ts): count, sum and sum of squares of
 * log(duration ms) (durations under 0.01 ms count as 0.01), failed spans (status ERROR or an
 * exception event) and root spans. `operation` undefined: the service's root-span series.
 */
export interface BucketedSeries {
  service: string;
  operation?: string;
  cnt: ArrayLike<number>;
  /**
   * Spans whose durations are in sumLog/sumLog2, when only some of cnt are (the live store
   * keeps latency over successful spans only, so failing fast does not read as a speed-up and
   * working again as a slowdown). Absent: all of cnt.
   */
  latCnt?: ArrayLike<number>;
  sumLog: ArrayLike<number>;
  sumLog2: ArrayLike<number>;
  err: ArrayLike<number>;
  roots: ArrayLike<number>;
}

/** Buckets of width bucketMs from fromMs to toMs (a whole number of buckets). */
export interface BucketedWindow {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  series: BucketedSeries[];
}

export interface SeriesDetectOptions {
  forceChangeAtMs?: number;
  /**
   * Least number of buckets after a split (default: as detectChange, max(2, 5 % of the
   * buckets)). A live watcher raises it so a blip of a bucket or two is not a change.
   */
  minAfterBuckets?: number;
  /**
   * Judge a latency shift also against how much the mean moves from bucket to bucket
   * before the split, not only against the spread of single spans. Spans of one bucket are
   * not independent (load bursts, GC, a busy neighbour on the machine move them together),
   * so with many spans a few seconds of such noise would look certain. Off by default (as
   * detectChange on a snapshot); the live watcher turns it on.
   */
  bucketVariance?: boolean;
}

/**
 * detectChange over pre-aggregated buckets instead of spans: O(series x buckets), however
 * many spans they count. Same tests and thresholds as on a snapshot with the same buckets.
 */
export function detectChangeInSeries(w: BucketedWindow, options: SeriesDetectOptions = {}): ChangeDetection {
  const bucketMs = w.bucketMs;
  const nb = Math.max(1, Math.round((w.toMs - w.fromMs) / bucketMs));
  const series: NamedSeries[] = [];
  for (const x of w.series) {
    const s = newSeries(nb);
    const n = Math.min(nb, x.cnt.length);
    const lcnt = x.latCnt ? new Float64Array(nb + 1) : undefined;
    for (let b = 0; b < n; b++) {
      if (lcnt) lcnt[b + 1] = x.latCnt![b];
      s.cnt[b + 1] = x.cnt[b];
      s.sum[b + 1] = x.sumLog[b];
      s.sum2[b + 1] = x.sumLog2[b];
      s.err[b + 1] = x.err[b];
      s.root[b + 1] = x.roots[b];
    }
    if (options.bucketVariance) {
      const bm = new Float64Array(nb + 1), bm2 = new Float64Array(nb + 1), bk = new Float64Array(nb + 1);
      for (let b = 1; b <= nb; b++) {
        const c = lcnt ? lcnt[b] : s.cnt[b];
        const m = c > 0 ? s.sum[b] / c : 0;
        bm[b] = bm[b - 1] + m;
        bm2[b] = bm2[b - 1] + m * m;
        bk[b] = bk[b - 1] + (c > 0 ? 1 : 0);
      }
      s.bm = bm;
      s.bm2 = bm2;
      s.bk = bk;
    }
    toPrefixSums(s, nb);
    if (lcnt) {
      for (let b = 1; b <= nb; b++) lcnt[b] += lcnt[b - 1];
      s.lcnt = lcnt;
    }
    series.push({ service: x.service, operation: x.operation, s });
  }
  return searchSplit(series, w.fromMs, nb, bucketMs, 0, options);
}

function searchSplit(
  series: NamedSeries[], fromMs: number, nb: number, bucketMs: number, baselineMs: number, options: SeriesDetectOptions,
): ChangeDetection {
  const hasBaseline = baselineMs > 0;
  // Candidate splits: at least 2 buckets after; without a baseline at least 3 before.
  const minBefore = hasBaseline ? 0 : Math.max(3, Math.floor(nb * 0.1));
  const minAfter = Math.max(2, Math.floor(nb * 0.05), options.minAfterBuckets ?? 0);
  let bestK = -1, bestScore = 0;
  if (options.forceChangeAtMs !== undefined) {
    const forceChangeAtMs = options.forceChangeAtMs;
    const k = Math.min(nb, Math.max(0, Math.round((forceChangeAtMs - fromMs) / bucketMs)));
    const signals: AnomalyReport['signals'] = [];
    const strength = splitScore(series, k, nb, bucketMs, baselineMs, signals);
    signals.sort((a, b) => b.score - a.score);
    return { detected: true, changeAtMs: forceChangeAtMs, baselineSource: hasBaseline ? 'baseline' : 'pre-change', signals: signals.slice(0, 20), strength, bucketMs };
  }
  // Choose the split on uncapped strength (with many spans every split near the change
  // reaches the cap); decide on the capped one, so one loud series cannot decide alone.
  let bestRaw = 0;
  for (let k = minBefore; k <= nb - minAfter; k++) {
    const raw = splitScore(series, k, nb, bucketMs, baselineMs, undefined, Infinity);
    if (raw > bestRaw) {
      bestRaw = raw;
      bestK = k;
    }
  }
  if (bestK >= 0) bestScore = splitScore(series, bestK, nb, bucketMs, baselineMs, undefined);
  const detected = bestK >= 0 && bestScore >= DETECT_THRESHOLD;
  if (!detected) return { detected: false, baselineSource: 'none', signals: [], strength: bestScore, bucketMs };
  const signals: AnomalyReport['signals'] = [];
  splitScore(series, bestK, nb, bucketMs, baselineMs, signals);
  signals.sort((a, b) => b.score - a.score);
  return {
    detected: true,
    changeAtMs: fromMs + bestK * bucketMs,
    baselineSource: hasBaseline ? 'baseline' : 'pre-change',
    signals: signals.slice(0, 20),
    strength: bestScore,
    bucketMs,
  };
}

function windowOf(snapshot: Snapshot): { fromMs: number; toMs: number } {
  let fromMs = snapshot.fromMs, toMs = snapshot.toMs;
  if (!(toMs > fromMs)) {
    fromMs = Infinity;
    toMs = -Infinity;
    for (const s of snapshot.spans) {
      if (s.startMs < fromMs) fromMs = s.startMs;
      if (s.startMs > toMs) toMs = s.startMs;
    }
    if (!(toMs > fromMs)) return { fromMs: 0, toMs: 1 };
    toMs += 1;
  }
  return { fromMs, toMs };
}

/** Two-sample z on log latency, 0 when the shift is below the minimum effect size. */
function latencyZ(mA: number, vA: number, nA: number, mN: number, vN: number, nN: number, between2 = 0): number {
  const d = mA - mN;
  if (Math.abs(d) < MIN_LOG_LATENCY_SHIFT) return 0;
  return Math.abs(d) / Math.sqrt(Math.max(Math.max(0.01, vN) / nN + Math.max(0.01, vA) / nA, between2));
}

/**
 * Squared standard error of "after minus before" from the spread of bucket means before
 * the split (0 when unknown or fewer than 3 such buckets).
 */
function betweenBuckets2(s: Series, k: number, nb: number): number {
  if (!s.bm || !s.bm2 || !s.bk) return 0;
  const kP = s.bk[k], kA = s.bk[nb] - s.bk[k];
  if (kP < 3 || kA < 1) return 0;
  const m = s.bm[k] / kP;
  const v = Math.max(0, (s.bm2[k] / kP - m * m) * (kP / (kP - 1)));
  return v * (1 / kA + 1 / kP);
}

function errorZ(pA: number, nA: number, pN: number, nN: number): number {
  if (Math.abs(pA - pN) < MIN_ERROR_SHIFT) return 0;
  const p = (pA * nA + pN * nN) / (nA + nN);
  return Math.abs(pA - pN) / Math.sqrt(p * (1 - p) * (1 / nA + 1 / nN) + 1e-9);
}

/**
 * Strength of "behaviour after bucket k differs from normal", summed over services. With a
 * baseline, a shift must show against both the baseline and the window before the split
 * (else it is drift between the recordings, not a change); a split with no window before
 * it only has the baseline and counts half.
 */
function splitScore(
  series: NamedSeries[], k: number, nb: number, bucketMs: number, baselineMs: number,
  signals: AnomalyReport['signals'] | undefined, cap = Z_CAP,
): number {
  let total = 0, best = 0, throughput = 0;
  const combine = (zPre: number | undefined, zBase: number | undefined) =>
    zPre !== undefined && zBase !== undefined ? Math.min(zPre, zBase) : zPre !== undefined ? zPre : zBase !== undefined ? zBase * 0.5 : 0;
  for (const { service, operation, s } of series) {
    const nP = s.cnt[k], nA = s.cnt[nb] - s.cnt[k], nBase = s.bCnt;
    const lc = s.lcnt ?? s.cnt;
    const lP = lc[k], lA = lc[nb] - lc[k];
    let svcScore = 0;
    if (lA >= 5 && lP + nBase >= 5) {
      const mA = (s.sum[nb] - s.sum[k]) / lA, vA = (s.sum2[nb] - s.sum2[k]) / lA - mA * mA;
      const mP = lP ? s.sum[k] / lP : 0, vP = lP ? s.sum2[k] / lP - mP * mP : 0;
      const mB = nBase ? s.bSum / nBase : 0, vB = nBase ? s.bSum2 / nBase - mB * mB : 0;
      const zLat = combine(lP >= 5 ? latencyZ(mA, vA, lA, mP, vP, lP, betweenBuckets2(s, k, nb)) : undefined, nBase >= 5 ? latencyZ(mA, vA, lA, mB, vB, nBase) : undefined);
      if (zLat > Z_FLOOR) {
        // A speed-up is rarely an incident on its own (warm-up, cache fill): half weight.
        const sc = (Math.min(cap, zLat) - Z_FLOOR) * (mA < (lP >= 5 ? mP : mB) ? 0.5 : 1);
        svcScore += sc;
        const before = lP >= 5 ? mP : mB;
        signals?.push({ service, operation, signal: 'latency', before: Math.exp(before), after: Math.exp(mA), score: sc });
      }
    }
    if (nA >= 5 && nP + nBase >= 5) {
      const pA = (s.err[nb] - s.err[k]) / nA, pP = nP ? s.err[k] / nP : 0, pB = nBase ? s.bErr / nBase : 0;
      const zErr = combine(nP >= 5 ? errorZ(pA, nA, pP, nP) : undefined, nBase >= 5 ? errorZ(pA, nA, pB, nBase) : undefined);
      if (zErr > Z_FLOOR) {
        // Errors appearing from (almost) nothing mean more than latency moving: 1.5x.
        const sc = (Math.min(cap, zErr) - Z_FLOOR) * 1.5;
        svcScore += sc;
        signals?.push({ service, operation, signal: 'errors', before: nP >= 5 ? pP : pB, after: pA, score: sc });
      }
    }
    // Entry-point throughput (root spans per second), against the window before the split
    // only: a baseline recorded at another time has another load.
    void baselineMs;
    const tB = (k * bucketMs) / 1000, tA = ((nb - k) * bucketMs) / 1000;
    const rB = tB > 0 ? s.root[k] / tB : 0, rA = tA > 0 ? (s.root[nb] - s.root[k]) / tA : 0;
    if (tB > 0 && tA > 0 && s.root[nb] >= 20 && Math.abs(rA - rB) >= MIN_RATE_SHIFT * Math.max(rA, rB)) {
      const z = Math.abs(rA - rB) / Math.sqrt(rA / tA + rB / tB + 1e-9);
      if (z > Z_FLOOR) {
        const sc = Math.min(cap, z) - Z_FLOOR;
        throughput += sc;
        signals?.push({ service, signal: 'throughput', before: rB, after: rA, score: sc });
      }
    }
    total += svcScore;
    if (svcScore > best) best = svcScore;
  }
  // One slowdown shows in every service on its call path: the strongest series counts in
  // full, the others half, so a chain of mild echoes is not an incident by itself.
  // Load going up or down alone is not one either; it adds to a latency or error change.
  const combined = best + ECHO_WEIGHT * (total - best);
  return combined > 0 ? combined + 0.25 * throughput : 0;
}

export function detectAnomaly(snapshot: Snapshot): AnomalyReport {
  const { strength: _s, bucketMs: _b, ...report } = detectChange(snapshot);
  void _s;
  void _b;
  if (report.detected || snapshot.metrics.length === 0) return report;
  // Nothing in the spans: a resource change (leak, hog) may still show in the gauges.
  const { fromMs, toMs } = windowOf(snapshot);
  const mc = metricChange(snapshot.metrics, fromMs, toMs);
  if (!mc) return report;
  const hasBaseline = (snapshot.baseline?.spans.length ?? 0) + (snapshot.baseline?.metrics.length ?? 0) > 0;
  return { detected: true, changeAtMs: mc.changeAtMs, baselineSource: hasBaseline ? 'baseline' : 'pre-change', signals: [] };
}

/**
 * detectAnomaly over pre-aggregated buckets (the live watcher): the spans' change, else a
 * change of the resource gauges inside the window [w.fromMs, w.toMs), judged against their
 * points from metricsFromMs (default w.fromMs) on: a window that starts just after an earlier
 * change holds too few gauge points before a new one to judge it by.
 */
export function detectAnomalyInSeries(w: BucketedWindow, metrics: MetricPoint[], options: SeriesDetectOptions & MetricChangeOptions & { metricsFromMs?: number } = {}): ChangeDetection {
  const det = detectChangeInSeries(w, options);
  if (det.detected || metrics.length === 0 || options.forceChangeAtMs !== undefined) return det;
  const mc = metricChange(metrics, Math.min(options.metricsFromMs ?? w.fromMs, w.fromMs), w.toMs, { ...options, notBeforeMs: w.fromMs });
  if (!mc) return det;
  return { detected: true, changeAtMs: mc.changeAtMs, baselineSource: 'pre-change', signals: [], strength: mc.strength, bucketMs: det.bucketMs };
}

/**
 * Second-stage change point for diagnose: given per-span anomaly flags (spans that were slow,
 * failed, diverged from normal call patterns, or crossed a delayed edge), find the split of
 * the window after which each service's share of flagged spans rose. Finer than the SLI
 * detector, because code-level faults change call patterns long before they move latency.
 */
export function changeFromFlags(
  service: Int32Array, start: Float64Array, flags: Uint8Array, inWindow: (i: number) => boolean,
  nServices: number, fromMs: number, toMs: number,
): { changeAtMs: number; strength: number } | undefined {
  const bucketMs = bucketWidth(toMs - fromMs);
  const nb = Math.max(1, Math.ceil((toMs - fromMs) / bucketMs));
  const tot = new Float64Array(nServices * (nb + 1)), hit = new Float64Array(nServices * (nb + 1));
  for (let i = 0; i < service.length; i++) {
    if (!inWindow(i)) continue;
    const b = Math.floor((start[i] - fromMs) / bucketMs);
    if (b < 0 || b >= nb) continue;
    const at = service[i] * (nb + 1) + b + 1;
    tot[at]++;
    if (flags[i]) hit[at]++;
  }
  for (let s = 0; s < nServices; s++) {
    const o = s * (nb + 1);
    for (let b = 1; b <= nb; b++) {
      tot[o + b] += tot[o + b - 1];
      hit[o + b] += hit[o + b - 1];
    }
  }
  const minBefore = Math.max(3, Math.floor(nb * 0.1)), minAfter = Math.max(3, Math.floor(nb * 0.1));
  let bestK = -1, best = 0, bestCapped = 0;
  for (let k = minBefore; k <= nb - minAfter; k++) {
    let score = 0, capped = 0;
    for (let s = 0; s < nServices; s++) {
      const o = s * (nb + 1);
      const nB = tot[o + k], nA = tot[o + nb] - nB;
      if (nB < 5 || nA < 5) continue;
      const kB = hit[o + k], kA = hit[o + nb] - kB;
      const pB = kB / nB, pA = kA / nA;
      if (pA - pB < MIN_ERROR_SHIFT) continue;
      const p = (kA + kB) / (nA + nB);
      const z = (pA - pB) / Math.sqrt(p * (1 - p) * (1 / nA + 1 / nB) + 1e-9);
      if (z > Z_FLOOR) {
        score += z - Z_FLOOR;
        capped += Math.min(Z_CAP, z) - Z_FLOOR;
      }
    }
    if (score > best) {
      best = score;
      bestCapped = capped;
      bestK = k;
    }
  }
  if (bestK < 0 || bestCapped < DETECT_THRESHOLD) return undefined;
  return { changeAtMs: fromMs + bestK * bucketMs, strength: bestCapped };
}

/** The SLI signals that moved at a given change time (for the report). */
export function signalsAt(snapshot: Snapshot, changeAtMs: number): AnomalyReport['signals'] {
  const det = detectChange(snapshot, changeAtMs);
  return det.signals;
}

/**
 * Change point from gauge metrics and counter rates (`counterRates`: CPU seconds, disk busy
 * time, bytes), for faults the spans do not show (a memory leak, a hog):
 * per series, the split where the median of the points after it sits furthest from the
 * points before it, in robust spreads (median and IQR, with floors, as in metrics.ts). The
 * median after the split, not its maximum, so one spike is not a change. Resource series
 * (cpu, memory, disk) only, at least 5 points before the split. Strength = sum over series
 * of the spreads beyond 8 (capped at 30 each); a change needs 10.
 */
const MIN_BEFORE_POINTS = 5; // medians of fewer points jump around
const METRIC_Z = 8;
const METRIC_Z_CAP = 30;

export interface MetricChangeOptions {
  /**
   * Least spread, in absolute units, of a utilization gauge (a name with "utilization",
   * a share of a CPU 0..1): 0.02 means a 2-point rise of an idle process (2 % -> 4 % of a
   * core, e.g. the GC work of a leak) is not a CPU change by itself. Default 0 (relative
   * floors only).
   */
  minUtilizationSpread?: number;
  /** Only a change at or after this time counts; points before it are normal only. */
  notBeforeMs?: number;
}

export function metricChange(metrics: MetricPoint[], fromMs: number, toMs: number, options: MetricChangeOptions = {}): { changeAtMs: number; strength: number } | undefined {
  const minUtil = options.minUtilizationSpread ?? 0;
  const bucketMs = bucketWidth(toMs - fromMs);
  const nb = Math.max(1, Math.ceil((toMs - fromMs) / bucketMs));
  const groups = new Map<string, Array<[number, number]>>();
  for (const p of [...metrics, ...counterRates(metrics)]) {
    if (p.kind !== 'gauge' && p.kind !== 'updowncounter') continue;
    // Resource series only: latency and errors are the spans' job, and app-level gauges
    // (queue depth, in-flight) move with every burst of load.
    const cat = metricCategory(p.name);
    if (cat !== 'cpu' && cat !== 'memory' && cat !== 'disk') continue;
    if (p.timeMs < fromMs || p.timeMs >= toMs || !Number.isFinite(p.value)) continue;
    const key = seriesKey(p);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push([p.timeMs, p.value]);
  }
  const strength = new Float64Array(nb + 1);
  for (const [key, pts] of groups) {
    if (pts.length < MIN_BEFORE_POINTS + 3) continue;
    const floor = minUtil > 0 && key.includes('utilization') ? minUtil : 1e-9;
    pts.sort((a, b) => a[0] - b[0]);
    const vals = pts.map((p) => p[1]);
    let best = 0, bestK = -1, bestJ = -1, bestMed = 0, bestSpread = 0, bestUp = true;
    let j = 0; // first point at or after the split
    for (let k = 1; k < nb; k++) {
      const at = fromMs + k * bucketMs;
      while (j < pts.length && pts[j][0] < at) j++;
      if (j < MIN_BEFORE_POINTS || pts.length - j < 3 || at < (options.notBeforeMs ?? -Infinity)) continue;
      const before = sortedCopy(vals.slice(0, j)), after = sortedCopy(vals.slice(j));
      const med = quantileSorted(before, 0.5);
      const iqr = quantileSorted(before, 0.75) - quantileSorted(before, 0.25);
      const spread = Math.max(iqr, (before[before.length - 1] - before[0]) / 4, 0.05 * Math.abs(med), floor);
      const afterMed = quantileSorted(after, 0.5);
      const z = Math.abs(afterMed - med) / spread;
      if (z > best) {
        best = z;
        bestK = k;
        bestJ = j;
        bestMed = med;
        bestSpread = spread;
        bestUp = afterMed > med;
      }
    }
    if (bestK > 0 && best > METRIC_Z) {
      // The split with the largest shift can come early: a tight stretch before it, and the
      // after side's median still past the change with a few unchanged points in it. A change
      // starts at a changed point: points right after the split that are not past the before
      // side (in the change's direction) belong before it.
      let jj = bestJ;
      while (pts.length - jj > 3 && (bestUp ? vals[jj] - bestMed : bestMed - vals[jj]) <= 3 * bestSpread) jj++;
      // With an earlier normal, a shift that began before notBeforeMs (an earlier fault's,
      // still on) would show at the first allowed split: a new change has at least one
      // unchanged point of its own window before it.
      if (options.notBeforeMs !== undefined && (jj === 0 || pts[jj - 1][0] < options.notBeforeMs)) continue;
      const k = jj === bestJ ? bestK : Math.min(nb - 1, Math.floor((pts[jj - 1][0] - fromMs) / bucketMs) + 1);
      strength[k] += Math.min(METRIC_Z_CAP, best) - METRIC_Z;
    }
  }
  // Series rarely agree to the bucket (a ramp peaks late): score a split with its neighbours.
  let bestK = -1, best = 0;
  for (let k = 1; k < nb; k++) {
    const v = strength[k - 1] + strength[k] + strength[k + 1];
    if (v > best) {
      best = v;
      bestK = k;
    }
  }
  if (bestK < 0 || best < 10) return undefined;
  return { changeAtMs: fromMs + bestK * bucketMs, strength: best };
}
