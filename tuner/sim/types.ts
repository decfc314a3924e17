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
