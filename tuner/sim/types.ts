// What a simulated service offers the benchmark: knobs, constraints, load regimes, the
// deterministic truth (for the known optimum by grid) and noisy canary-sized observations.

import type { ConstraintSpec, Observation } from '../optimizer';
import type { Rng } from '../random';
import type { Config, KnobSpec } from '../space';

export interface SimMetrics {
  /** The objective: p99 in ms plus the cost term (ms-equivalent). */
  objective: number;
  p99Ms: number;
  constraints: Record<string, number>;
}

export interface SimScenario<R = unknown> {
  name: string;
  knobs: KnobSpec[];
  constraints: ConstraintSpec[];
  regimes: Array<{ name: string; params: R }>;
  /** Noise-free metrics of a configuration under a regime. */
  evaluate(config: Config, regime: R): SimMetrics;
  /** One measurement as a canary window would see it (independent noise per call). */
  observe(config: Config, regime: R, rng: Rng): Observation;
  /** The known cost part of the objective (objective − p99), a function of the config alone. */
  cost?(config: Config): number;
  /** The exhaustive grid the known optimum is searched on. */
  grid(): Config[];
}

/** Requests in one simulated canary window (the error rate is a proportion over these). */
export const WINDOW_REQUESTS = 10_000;

/** Relative sd of a p99 read from one window: a few %, more near capacity (ρ > 0.7). */
export function p99NoiseSd(utilisation: number): number {
  return 0.04 + 0.15 * Math.max(0, utilisation - 0.7);
}

/**
 * The standard errors a window reports with its readings, computed from the readings
 * themselves as a live measurement would (never from the true values): the p99's from the
 * measured utilisation, the error rate's binomial √(p̂(1−p̂)/n) with p̂ ≥ 1/n (0 errors in n
 * is not exact), utilisation ±2 %; `extra` gives other constraints' se from their reading.
 */
export function windowStandardErrors(
  p99Ms: number,
  constraints: Record<string, number>,
  extra: Record<string, (v: number) => number> = {},
): { objectiveSe: number; constraintSe: Record<string, number> } {
  const rho = constraints.utilisation ?? 0;
  const n = WINDOW_REQUESTS;
  const constraintSe: Record<string, number> = {};
  if (constraints.utilisation !== undefined) constraintSe.utilisation = 0.02 * constraints.utilisation;
  if (constraints.errorRate !== undefined) {
    const p = Math.max(constraints.errorRate, 1 / n);
    constraintSe.errorRate = Math.sqrt((p * (1 - p)) / n);
  }
  for (const [k, f] of Object.entries(extra)) if (constraints[k] !== undefined) constraintSe[k] = f(constraints[k]);
  return { objectiveSe: p99Ms * p99NoiseSd(rho), constraintSe };
}
