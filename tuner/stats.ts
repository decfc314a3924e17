// The canary's statistics: instead of comparing two p99 readings, test whether the canary's
// latencies are worse than the baseline cohort's by more than the tolerance, with
// distribution-free tests that account for the number of requests seen.
//  - Mann–Whitney U (one-sided, normal approximation with tie correction) of the canary's
//    latencies against the baseline's scaled by (1 + tolerance): a non-inferiority test of the
//    whole distribution ("is the canary stochastically slower than baseline × (1 + δ)?").
//  - Tail exceedance: the share of canary requests above baseline p99 × (1 + δ) against the
//    baseline's own share above that threshold (one-sided two-proportion z-test), so a tail
//    regression that the bulk hides is caught and a noisy p99 alone is not enough.
//  - Errors: one-sided two-proportion z-test of the canary's error rate against the baseline's.

import { normCdf } from './normal';

export interface MannWhitneyResult {
  /** U of the first sample (number of pairs where a > b, ties count ½). */
  u: number;
  /** P(a > b) + ½P(a = b): 0.5 = no shift. */
  auc: number;
  z: number;
  /** One-sided p-value for "a is stochastically greater than b". */
  p: number;
}

/** One-sided Mann–Whitney U test that `a` tends to be larger than `b`. */
export function mannWhitneyGreater(a: ArrayLike<number>, b: ArrayLike<number>): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: 0, auc: 0.5, z: 0, p: 1 };
  const all: Array<{ v: number; g: 0 | 1 }> = [];
  for (let i = 0; i < n1; i++) all.push({ v: a[i], g: 0 });
  for (let i = 0; i < n2; i++) all.push({ v: b[i], g: 1 });
  all.sort((x, y) => x.v - y.v);
  const n = n1 + n2;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1].v === all[i].v) j++;
    const rank = (i + j + 2) / 2; // average of ranks i+1 .. j+1
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (all[k].g === 0) rankSumA += rank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const z = variance > 0 ? (u - mean - 0.5) / Math.sqrt(variance) : 0; // continuity correction
  return { u, auc: u / (n1 * n2), z, p: normCdf(-z) };
}

export interface ProportionTest {
  p1: number;
  p2: number;
  z: number;
  /** One-sided p-value for "p1 > p2 + margin". */
  p: number;
}

/** One-sided two-proportion z-test of x1/n1 > x2/n2 + margin (pooled variance when margin = 0). */
export function twoProportionGreater(x1: number, n1: number, x2: number, n2: number, margin = 0): ProportionTest {
  const p1 = n1 > 0 ? x1 / n1 : 0;
  const p2 = n2 > 0 ? x2 / n2 : 0;
  if (n1 === 0 || n2 === 0) return { p1, p2, z: 0, p: 1 };
  let se: number;
  if (margin === 0) {
    const pooled = (x1 + x2) / (n1 + n2);
    se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  } else se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  // A floor of half a count per sample keeps 0/n vs 1/n from looking infinitely significant.
  se = Math.max(se, Math.sqrt(0.25 / n1 + 0.25 / n2) / Math.sqrt(Math.max(n1, n2)));
  const z = (p1 - p2 - margin) / se;
  return { p1, p2, z, p: normCdf(-z) };
}

export interface CanaryStats {
  /** Failed checks, in words (empty = the canary passes). */
  failed: string[];
  latency: MannWhitneyResult & { tolerance: number };
  tail: ProportionTest & { thresholdMs: number };
  errors: ProportionTest;
}

function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

/**
 * Canary vs baseline cohort on latency samples (ms) and error counts. Fails only on a
 * significant (p < alpha) regression beyond the tolerance: the latency distribution shifted
 * above baseline × (1 + tolerance); more requests than the baseline above its p99 × (1 +
 * tolerance) while the canary's own p99 is above it; errors up by more than errorRateDelta
 * and significantly above the baseline.
 */
export function compareCanary(
  canary: { latenciesMs: number[]; errors: number },
  baseline: { latenciesMs: number[]; errors: number },
  opts: { tolerance: number; errorRateDelta: number; alpha: number },
): CanaryStats {
  const failed: string[] = [];
  const c = Float64Array.from(canary.latenciesMs).sort();
  const b = Float64Array.from(baseline.latenciesMs).sort();
  const scaled = b.map((v) => v * (1 + opts.tolerance));
  const latency = { ...mannWhitneyGreater(c, scaled), tolerance: opts.tolerance };
  if (latency.p < opts.alpha)
    failed.push(
      `latency above baseline × ${1 + opts.tolerance} (Mann–Whitney U one-sided p = ${latency.p.toExponential(2)}, P(canary > baseline×${1 + opts.tolerance}) = ${r3(latency.auc)})`,
    );
  const bP99 = quantileSorted(b, 0.99);
  const thresholdMs = bP99 * (1 + opts.tolerance);
  const above = (xs: Float64Array) => {
    let k = 0;
    for (let i = xs.length - 1; i >= 0 && xs[i] > thresholdMs; i--) k++;
    return k;
  };
  const tail = { ...twoProportionGreater(above(c), c.length, above(b), b.length), thresholdMs };
  const cP99 = quantileSorted(c, 0.99);
  if (cP99 > thresholdMs && tail.p < opts.alpha)
    failed.push(
      `p99 ${r3(cP99)} ms > baseline ${r3(bP99)} ms × ${1 + opts.tolerance} (tail: ${r3(tail.p1 * 100)} % vs ${r3(tail.p2 * 100)} % of requests above ${r3(thresholdMs)} ms, one-sided p = ${tail.p.toExponential(2)})`,
    );
  const errors = twoProportionGreater(canary.errors, c.length, baseline.errors, b.length);
  if (errors.p1 - errors.p2 > opts.errorRateDelta && errors.p < opts.alpha)
    failed.push(`error rate ${Math.round(errors.p1 * 1e5) / 1e5} > baseline ${Math.round(errors.p2 * 1e5) / 1e5} + ${opts.errorRateDelta} (two-proportion one-sided p = ${errors.p.toExponential(2)})`);
  return { failed, latency, tail, errors };
}
