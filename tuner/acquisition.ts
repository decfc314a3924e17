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
