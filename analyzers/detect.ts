// Change detection over the service-level SLIs carried by spans: latency (log duration of
// entry spans), error ratio per service, and throughput at the entry points. Finds the
// split of the window that best separates "normal" from "changed" (normal = the baseline
// plus the part before the split when a baseline exists, else the part before the split
// only) with two-sample tests on prefix sums, so one pass over the spans and O(series x
// buckets) after it: cheap enough for the live sidecar to call every few seconds.

import type { AnomalyReport } from '../model/diagnosis';
import { SpanKind, StatusCode } from '../model/telemetry';
import type { Snapshot, Span } from '../model/telemetry';

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

function isEntrySpan(s: Span): boolean {
  return s.kind === SpanKind.SERVER || s.kind === SpanKind.CONSUMER || s.parentSpanId === '';
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

export function detectChange(snapshot: Snapshot): ChangeDetection {
  const { fromMs, toMs } = windowOf(snapshot);
  const bucketMs = bucketWidth(toMs - fromMs);
  const nb = Math.max(1, Math.ceil((toMs - fromMs) / bucketMs));
  const series = new Map<string, Series>();
  const get = (service: string) => {
    let s = series.get(service);
    if (!s) series.set(service, (s = newSeries(nb)));
    return s;
  };
  for (const sp of snapshot.spans) {
    if (!isEntrySpan(sp)) continue;
    let b = Math.floor((sp.startMs - fromMs) / bucketMs);
    if (b < 0 || b >= nb) continue;
    const s = get(sp.service);
    const l = logDur(sp.durationMs);
    b += 1; // prefix-sum layout: bucket b lives at b+1
    s.cnt[b]++;
    s.sum[b] += l;
    s.sum2[b] += l * l;
    if (sp.status === StatusCode.ERROR || sp.exceptionCount > 0) s.err[b]++;
    if (sp.parentSpanId === '') s.root[b]++;
  }
  let baselineMs = 0;
  const base = snapshot.baseline?.spans ?? [];
  if (base.length) {
    let bMin = Infinity, bMax = -Infinity;
    for (const sp of base) {
      if (!isEntrySpan(sp)) continue;
      if (sp.startMs < bMin) bMin = sp.startMs;
      if (sp.startMs > bMax) bMax = sp.startMs;
      const s = get(sp.service);
      const l = logDur(sp.durationMs);
      s.bCnt++;
      s.bSum += l;
      s.bSum2 += l * l;
      if (sp.status === StatusCode.ERROR || sp.exceptionCount > 0) s.bErr++;
      if (sp.parentSpanId === '') s.bRoot++;
    }
    baselineMs = bMax > bMin ? bMax - bMin : 0;
  }
  const hasBaseline = baselineMs > 0;
  for (const s of series.values()) {
    for (let b = 1; b <= nb; b++) {
      s.cnt[b] += s.cnt[b - 1];
      s.sum[b] += s.sum[b - 1];
      s.sum2[b] += s.sum2[b - 1];
      s.err[b] += s.err[b - 1];
      s.root[b] += s.root[b - 1];
    }
  }
  // Candidate splits: at least 2 buckets after; without a baseline at least 3 before.
  const minBefore = hasBaseline ? 0 : Math.max(3, Math.floor(nb * 0.1));
  const minAfter = Math.max(2, Math.floor(nb * 0.05));
  let bestK = -1, bestScore = 0;
  for (let k = minBefore; k <= nb - minAfter; k++) {
    const score = splitScore(series, k, nb, bucketMs, baselineMs, undefined);
    if (score > bestScore) {
      bestScore = score;
      bestK = k;
    }
  }
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

/** Strength of "behaviour after bucket k differs from normal", summed over services. */
function splitScore(
  series: Map<string, Series>, k: number, nb: number, bucketMs: number, baselineMs: number,
  signals: AnomalyReport['signals'] | undefined,
): number {
  let total = 0;
  for (const [service, s] of series) {
    const nB = s.cnt[k] + s.bCnt, nA = s.cnt[nb] - s.cnt[k];
    let svcScore = 0;
    if (nB >= 5 && nA >= 5) {
      const mB = (s.sum[k] + s.bSum) / nB, mA = (s.sum[nb] - s.sum[k]) / nA;
      const vB = Math.max(0.01, (s.sum2[k] + s.bSum2) / nB - mB * mB);
      const vA = Math.max(0.01, (s.sum2[nb] - s.sum2[k]) / nA - mA * mA);
      const d = mA - mB;
      if (Math.abs(d) >= MIN_LOG_LATENCY_SHIFT) {
        const z = Math.abs(d) / Math.sqrt(vB / nB + vA / nA);
        if (z > Z_FLOOR) {
          const sc = Math.min(Z_CAP, z) - Z_FLOOR;
          svcScore += sc;
          signals?.push({ service, signal: 'latency', before: Math.exp(mB), after: Math.exp(mA), score: sc });
        }
      }
      const pB = (s.err[k] + s.bErr) / nB, pA = (s.err[nb] - s.err[k]) / nA;
      if (Math.abs(pA - pB) >= MIN_ERROR_SHIFT) {
        const p = (pA * nA + pB * nB) / (nA + nB);
        const z = Math.abs(pA - pB) / Math.sqrt(p * (1 - p) * (1 / nA + 1 / nB) + 1e-9);
        if (z > Z_FLOOR) {
          const sc = Math.min(Z_CAP, z) - Z_FLOOR;
          svcScore += sc;
          signals?.push({ service, signal: 'errors', before: pB, after: pA, score: sc });
        }
      }
    }
    // Entry-point throughput (root spans per second).
    const tB = (k * bucketMs + baselineMs) / 1000, tA = ((nb - k) * bucketMs) / 1000;
    const rB = tB > 0 ? (s.root[k] + s.bRoot) / tB : 0, rA = tA > 0 ? (s.root[nb] - s.root[k]) / tA : 0;
    if (tB > 0 && tA > 0 && s.root[nb] + s.bRoot >= 20 && Math.abs(rA - rB) >= MIN_RATE_SHIFT * Math.max(rA, rB)) {
      const z = Math.abs(rA - rB) / Math.sqrt(rA / tA + rB / tB + 1e-9);
      if (z > Z_FLOOR) {
        const sc = Math.min(Z_CAP, z) - Z_FLOOR;
        svcScore += sc;
        signals?.push({ service, signal: 'throughput', before: rB, after: rA, score: sc });
      }
    }
    total += svcScore;
  }
  return total;
}

export function detectAnomaly(snapshot: Snapshot): AnomalyReport {
  const { strength: _s, bucketMs: _b, ...report } = detectChange(snapshot);
  void _s;
  void _b;
  return report;
}
