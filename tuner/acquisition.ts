// Acquisition for minimisation under constraints: log EI + Σ log PoF (EI × probability of
// feasibility, in the log domain so far-from-best candidates are still ranked).

import { logH, logNormCdf, normCdf, normPdf } from './normal';

/** Expected improvement below `best` of N(mean, sd²) (minimisation), ξ ≥ 0 a margin. */
export function expectedImprovement(mean: number, sd: number, best: number, xi = 0): number {
  if (!(sd > 0)) return Math.max(0, best - mean - xi);
  const z = (best - mean - xi) / sd;
  return Math.max(0, (best - mean - xi) * normCdf(z) + sd * normPdf(z));
}

/** log EI, finite for any sd > 0 however far the mean is above the best. */
export function logExpectedImprovement(mean: number, sd: number, best: number, xi = 0): number {
  if (!(sd > 0)) {
    const d = best - mean - xi;
    return d > 0 ? Math.log(d) : Number.NEGATIVE_INFINITY;
  }
  return Math.log(sd) + logH((best - mean - xi) / sd);
}

/** P(g ≤ limit) for g ~ N(mean, sd²). */
export function probabilityOfFeasibility(mean: number, sd: number, limit: number): number {
  if (!(sd > 0)) return mean <= limit ? 1 : 0;
  return normCdf((limit - mean) / sd);
}

export function logProbabilityOfFeasibility(mean: number, sd: number, limit: number): number {
  if (!(sd > 0)) return mean <= limit ? 0 : Number.NEGATIVE_INFINITY;
  return logNormCdf((limit - mean) / sd);
}

/**
 * Knowledge gradient over a discrete set (minimisation): how much one more reading is expected
 * to lower the best posterior mean, min μ − E[min_i(μ_i + σ̃_i·Z)], Z ~ N(0,1), where σ̃_i is
 * how far the reading moves the posterior mean at point i (Cov(i, x)/√(Var(x) + noise)). Unlike
 * EI it is small where a reading, being noisy, could not change which point is best.
 * Computed by quadrature over Z (81 points on [−5, 5]).
 */
export function knowledgeGradient(mu: number[], sigmaTilde: number[]): number {
  if (mu.length === 0) return 0;
  const best = Math.min(...mu);
  let expMin = 0;
  let wsum = 0;
  const N = 81;
  for (let k = 0; k < N; k++) {
    const z = -5 + (10 * k) / (N - 1);
    const w = Math.exp(-0.5 * z * z);
    let m = Number.POSITIVE_INFINITY;
    for (let i = 0; i < mu.length; i++) m = Math.min(m, mu[i] + sigmaTilde[i] * z);
    expMin += w * m;
    wsum += w;
  }
  return Math.max(0, best - expMin / wsum);
}
