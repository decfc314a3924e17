// The offline benchmark behind `faultline tune simulate`: for each scenario and load regime,
// the known optimum by exhaustive grid, then per seed a 20-trial tuning run (the optimizer as
// the service runs it: trial 0 = current config, step-limited moves from the incumbent) and
// the same budget spent by uniform random search, both scored on the noise-free truth.

import { isFeasible, RegimeOptimizer, type OptimizerOptions } from '../optimizer';
import { createRng } from '../random';
import { defaultConfig, type Config } from '../space';
import { batchingScenario } from './batching';
import { cacheScenario } from './cache';
import type { SimScenario } from './types';

export const SIM_SCENARIOS: Array<SimScenario<any>> = [batchingScenario, cacheScenario];

export interface SimulateOptions {
  seeds: number;
  /** Trials per regime and seed (the budget). */
  trials?: number;
  /** First seed; seeds are firstSeed .. firstSeed + seeds − 1. */
  firstSeed?: number;
  scenarios?: string[];
  /** Within this relative distance of the optimum counts as reached (0.05). */
  tolerance?: number;
  /** Give the optimizer the scenario's known cost terms (default false: in the 20-seed cache runs it lowered the share within 5 % from 0.40/0.40/0.80 to 0.15/0.10/0.20 — the exact cost pulls the incumbent to cheap configs whose p99 benefit the GP smooths away). */
  knownCost?: boolean;
  /**
   * Readings the optimizer is told per trial (default 1). The service tells two per kept
   * trial, the canary's window and the whole fleet's (TunerService.runTrial); 2 models that,
   * both drawn at `observe`'s noise (a canary window's, which overstates the fleet window's).
   * Over seeds 1–40 it changed the shares within 5 % by no more than the seed-to-seed spread
   * (docs/tuner.md), at twice the run time, so the default stays 1.
   */
  readingsPerTrial?: number;
  /** Overrides of the optimizer's settings (for ablations). */
  optimizer?: Partial<Pick<OptimizerOptions, 'trustRegion' | 'safetySd' | 'candidates' | 'localDesign' | 'switchSd' | 'sparsity' | 'linearTrend' | 'objectiveNoiseSd' | 'acquisition' | 'useStandardErrors' | 'replicateTrials'>>;
}

export interface SimulateResult {
  scenario: string;
  regime: string;
  seeds: number;
  withinFivePercent: number;
  medianTrialsToFivePercent: number | null;
  unsafeTrials: number;
  randomSearchUnsafeTrials: number;
}

/** Extra detail not in the JSON line (for the table and the docs). */
export interface SimulateDetail extends SimulateResult {
  optimum: { config: Config; objective: number };
  defaultObjective: number;
  medianFinalRatio: number;
  randomSearchWithinFivePercent: number;
  ms: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

export function knownOptimum(scenario: SimScenario<any>, regime: unknown): { config: Config; objective: number } {
  let best: Config | undefined;
  let bestV = Number.POSITIVE_INFINITY;
  for (const c of scenario.grid()) {
    const m = scenario.evaluate(c, regime);
    if (isFeasible({ constraints: m.constraints }, scenario.constraints) && m.objective < bestV) {
      bestV = m.objective;
      best = c;
    }
  }
  if (!best) throw new Error(`${scenario.name}: no feasible configuration on the grid`);
  return { config: best, objective: bestV };
}

function seedFor(scenarioIndex: number, regimeIndex: number, seed: number, stream: number): number {
  return (seed * 1_000_003 + scenarioIndex * 7919 + regimeIndex * 104_729 + stream * 15_485_863) >>> 0;
}

export function simulateRegime(scenario: SimScenario<any>, regimeIndex: number, opts: SimulateOptions): SimulateDetail {
  const t0 = Date.now();
  const trials = opts.trials ?? 20;
  const readings = Math.max(1, Math.round(opts.readingsPerTrial ?? 1));
  const tol = opts.tolerance ?? 0.05;
  const regime = scenario.regimes[regimeIndex];
  const scenarioIndex = SIM_SCENARIOS.indexOf(scenario);
  const optimum = knownOptimum(scenario, regime.params);
  const target = optimum.objective * (1 + tol);
  const truthOk = (c: Config): { ok: boolean; ratio: number } => {
    const m = scenario.evaluate(c, regime.params);
    const feasible = isFeasible({ constraints: m.constraints }, scenario.constraints);
    return { ok: feasible && m.objective <= target, ratio: feasible ? m.objective / optimum.objective : Number.POSITIVE_INFINITY };
  };
  const unsafe = (c: Config): boolean => !isFeasible({ constraints: scenario.evaluate(c, regime.params).constraints }, scenario.constraints);
  const first = opts.firstSeed ?? 1;
  const within: boolean[] = [];
  const toFive: number[] = [];
  const finalRatios: number[] = [];
  const unsafeCounts: number[] = [];
  const randomUnsafe: number[] = [];
  const randomWithin: boolean[] = [];
  for (let s = first; s < first + opts.seeds; s++) {
    // --- the tuner ---
    const noise = createRng(seedFor(scenarioIndex, regimeIndex, s, 1));
    const opt = new RegimeOptimizer({ knobs: scenario.knobs, constraints: scenario.constraints, seed: seedFor(scenarioIndex, regimeIndex, s, 2), knownCost: opts.knownCost === true ? scenario.cost?.bind(scenario) : undefined, budget: trials, ...opts.optimizer });
    let current = defaultConfig(scenario.knobs);
    let reached = Number.POSITIVE_INFINITY;
    let unsafeN = 0;
    let ratio = Number.POSITIVE_INFINITY;
    for (let t = 1; t <= trials; t++) {
      const p = opt.ask(current);
      if (unsafe(p.config)) unsafeN++;
      for (let k = 0; k < readings; k++) opt.tell(scenario.observe(p.config, regime.params, noise));
      // A kept trial becomes the incumbent; a bad one is rolled back to it.
      const best = opt.best();
      current = best ? best.config : defaultConfig(scenario.knobs);
      const r = truthOk(current);
      ratio = r.ratio;
      if (r.ok && reached === Number.POSITIVE_INFINITY) reached = t;
    }
    within.push(truthOk(current).ok);
    finalRatios.push(ratio);
    toFive.push(reached);
    unsafeCounts.push(unsafeN);
    // --- random search, same budget, uniform in bounds ---
    const rr = createRng(seedFor(scenarioIndex, regimeIndex, s, 3));
    const rnoise = createRng(seedFor(scenarioIndex, regimeIndex, s, 4));
    let ru = 0;
    let bestObs: { c: Config; v: number } | undefined;
    for (let t = 1; t <= trials; t++) {
      const c: Config = {};
      for (const k of scenario.knobs) {
        if (k.type === 'choice') c[k.name] = (k.choices as string[])[rr.int(0, (k.choices as string[]).length - 1)];
        else {
          const u = rr.next();
          const min = k.min as number;
          const max = k.max as number;
          let v = k.log ? min * Math.pow(max / min, u) : min + u * (max - min);
          if (k.type === 'int') v = Math.round(v);
          c[k.name] = v;
        }
      }
      if (unsafe(c)) ru++;
      // the same readings per config as the tuner, averaged
      const os = Array.from({ length: readings }, () => scenario.observe(c, regime.params, rnoise));
      const v = os.reduce((a, o) => a + o.objective, 0) / readings;
      if (os.every((o) => isFeasible(o, scenario.constraints)) && (!bestObs || v < bestObs.v)) bestObs = { c, v };
    }
    randomUnsafe.push(ru);
    randomWithin.push(bestObs ? truthOk(bestObs.c).ok : false);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const med = median(toFive);
  return {
    scenario: scenario.name,
    regime: regime.name,
    seeds: opts.seeds,
    withinFivePercent: round(mean(within.map((b) => (b ? 1 : 0))), 3),
    medianTrialsToFivePercent: Number.isFinite(med) ? med : null,
    unsafeTrials: round(mean(unsafeCounts), 2),
    randomSearchUnsafeTrials: round(mean(randomUnsafe), 2),
    optimum,
    defaultObjective: scenario.evaluate(defaultConfig(scenario.knobs), regime.params).objective,
    medianFinalRatio: round(median(finalRatios), 4),
    randomSearchWithinFivePercent: round(mean(randomWithin.map((b) => (b ? 1 : 0))), 3),
    ms: Date.now() - t0,
  };
}

function round(v: number, digits: number): number {
  const f = Math.pow(10, digits);
  return Math.round(v * f) / f;
}

/** Runs every (scenario, regime); calls onResult as each finishes (for streaming output). */
export function simulate(opts: SimulateOptions, onResult?: (r: SimulateDetail) => void): SimulateDetail[] {
  const out: SimulateDetail[] = [];
  for (const scenario of SIM_SCENARIOS) {
    if (opts.scenarios && !opts.scenarios.includes(scenario.name)) continue;
    for (let i = 0; i < scenario.regimes.length; i++) {
      const r = simulateRegime(scenario, i, opts);
      out.push(r);
      onResult?.(r);
    }
  }
  return out;
}

/** The JSON line contract: exactly these keys. */
export function toJsonLine(r: SimulateResult): string {
  const { scenario, regime, seeds, withinFivePercent, medianTrialsToFivePercent, unsafeTrials, randomSearchUnsafeTrials } = r;
  return JSON.stringify({ scenario, regime, seeds, withinFivePercent, medianTrialsToFivePercent, unsafeTrials, randomSearchUnsafeTrials });
}
