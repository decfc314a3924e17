// Constrained Bayesian optimisation for one load regime: a GP for the (log) objective and
// one per constraint, log EI + Σ log PoF maximised inside a trust region around the
// incumbent, after a SafeOpt-style filter (μ_g + 2σ_g ≤ limit). Trial 0 is the current
// configuration; then warm-start configurations (best of similar regimes); the final pick is
// the best posterior mean among feasible observed points, not the luckiest measurement.

import { knowledgeGradient, logExpectedImprovement, logProbabilityOfFeasibility, probabilityOfFeasibility } from './acquisition';
import { GaussianProcess, type GpHyper } from './gp';
import { createRng, type Rng } from './random';
import { allowedInterval, KnobSpace, limitConfig, type Config, type KnobSpec } from './space';

export type Transform = 'none' | 'log' | 'logit';

export interface ConstraintSpec {
  /** Metric name, e.g. 'errorRate', 'utilisation', 'p99Ms'. */
  name: string;
  /** Feasible when the metric is ≤ max. */
  max: number;
  transform?: Transform;
}

export interface Observation {
  config: Config;
  /** The objective measured (lower is better). */
  objective: number;
  constraints: Record<string, number>;
  /** The trial crashed or was rolled back: counts as infeasible at its worst. */
  failed?: boolean;
  /**
   * Standard error of the objective reading, in metric units (e.g. from the order statistics of
   * the window's p99). With it the objective GP weighs each reading by its own noise.
   */
  objectiveSe?: number;
  /** Standard errors of the constraint readings, in metric units (e.g. √(p(1−p)/n) for an error rate). */
  constraintSe?: Record<string, number>;
}

/**
 * A standard error in metric units carried to the transformed scale (delta method). The
 * derivative is taken at max(value, se): a reading of 0 errors out of n is not infinitely
 * precise in logit space, it says "below a few per n".
 */
export function transformSe(t: Transform | undefined, value: number, se: number | undefined): number | undefined {
  if (se === undefined || !Number.isFinite(se) || se < 0 || !Number.isFinite(value)) return undefined;
  if (t === 'log') return se / Math.max(Math.abs(value), se, 1e-9);
  if (t === 'logit') {
    const p = Math.min(1 - 1e-6, Math.max(1e-5, Math.abs(value), se));
    return se / (p * (1 - p));
  }
  return se;
}

export type ProposalReason = 'baseline' | 'warm-start' | 'local-design' | 'exploit' | 'explore' | 're-measure';

export interface Prediction {
  mean: number;
  sd: number;
}

export interface Proposal {
  config: Config;
  reason: ProposalReason;
  /** Predicted objective (in metric units: back-transformed mean, sd on the transformed scale). */
  predicted?: { objective: Prediction; constraints: Record<string, Prediction & { pof: number }> };
  logEi?: number;
  pof?: number;
}

export interface OptimizerOptions {
  knobs: KnobSpec[];
  constraints: ConstraintSpec[];
  /** 'log' (default) suits latencies and costs. */
  objectiveTransform?: Transform;
  seed?: number;
  /** Configurations to try right after the baseline (best configs of similar regimes). */
  warmStart?: Config[];
  trustRegion?: { initial?: number; min?: number; max?: number };
  /**
   * √β of the safety filter μ_g + √β·σ_g ≤ limit (default 1.5; it was 2 until session 7:
   * with the design anchor and the constraint floor, 1.5 raised the cache scenario's share
   * within 5 % over 60 seeds from 0.53/0.33/0.68 to 0.57/0.48/0.70 at 300/1500/4000 rps, at
   * ~1.3 unsafe trials per 20 against random search's ~7; docs/tuner.md, Figures).
   */
  safetySd?: number;
  /**
   * Readings of a log- or logit-modelled constraint below this share of its limit are raised
   * to it before fitting (default 1/30). Far below the limit every value is simply safe, and a
   * small proportion's relative noise (0 or 1 error in a window: logit −11.5 vs −9.2) would
   * otherwise set the fitted noise and widen the posterior at the limit, where it decides.
   */
  constraintFloor?: number;
  candidates?: number;
  /** Probe each numeric knob with a full step after the baseline: 'both' (the default since commit 0aae0c6) one step down and one up, true one step in a random direction, false none. */
  localDesign?: boolean | 'both';
  /** Keep the incumbent unless a point's posterior mean beats it by this many sds of the difference (default 0 = off: in the cache ablation it did not help). */
  switchSd?: number;
  /** Nats of acquisition a knob's move away from the incumbent must earn (0 = off). */
  sparsity?: number;
  /** Linear trend term in the objective GP (extrapolates a measured slope to a full step). */
  linearTrend?: boolean;
  /** Known relative measurement noise of the objective (log scale sd, e.g. 0.03 = 3 %): a floor for the GP's noise. */
  objectiveNoiseSd?: number;
  /**
   * The part of the objective that is a known function of the config (the cost terms, e.g.
   * 0.15 ms per thread). Only the measured rest (p99) is modelled by the GP; the cost is added
   * back exactly, so the model never has to learn from noisy data what is known.
   */
  knownCost?: (config: Config) => number;
  /** 'ei' (default): EI against the incumbent's posterior mean; 'aei': augmented EI for noisy readings; 'kg': knowledge gradient over the measured points (how much one noisy reading is expected to lower the best posterior mean). */
  acquisition?: 'ei' | 'aei' | 'kg';
  /** Trials this regime will get (the simulator's budget; absent for a live service = no end phase). */
  budget?: number;
  /** With a budget: the last this many trials re-measure the wider-posterior of the two best measured configs. */
  replicateTrials?: number;
  /**
   * Use the standard errors reported with observations (`objectiveSe`, `constraintSe`) as
   * per-point GP noise (a heteroscedastic GP). Default false: in the 40-seed cache runs it did
   * not raise the share within 5 % (docs/tuner.md, Figures).
   */
  useStandardErrors?: boolean;
}

export function transformValue(t: Transform | undefined, v: number): number {
  if (t === 'log') return Math.log(Math.max(v, 1e-9));
  if (t === 'logit') {
    const p = Math.min(1 - 1e-6, Math.max(1e-5, v));
    return Math.log(p / (1 - p));
  }
  return v;
}

export function untransformValue(t: Transform | undefined, v: number): number {
  if (t === 'log') return Math.exp(v);
  if (t === 'logit') return 1 / (1 + Math.exp(-v));
  return v;
}

export function isFeasible(obs: Pick<Observation, 'constraints' | 'failed'>, constraints: ConstraintSpec[]): boolean {
  if (obs.failed) return false;
  return constraints.every((c) => {
    const v = obs.constraints[c.name];
    return v !== undefined && Number.isFinite(v) && v <= c.max;
  });
}

interface Models {
  objective: GaussianProcess;
  constraints: GaussianProcess[];
  xs: number[][];
}

export class RegimeOptimizer {
  readonly space: KnobSpace;
  readonly observations: Observation[] = [];
  private readonly rng: Rng;
  private readonly warm: Config[];
  /** Knobs still to probe with one full step each (the local initial design). */
  private readonly designQueue: Array<{ k: KnobSpec; dir: -1 | 0 | 1 }>;
  /** The config the local design steps from (see ask()). */
  private designAnchor?: Config;
  private trLength: number;
  private successes = 0;
  private failures = 0;
  private hyper: { objective?: GpHyper; constraints: Array<GpHyper | undefined> } = { constraints: [] };
  private models?: Models;
  private bestObserved = Number.POSITIVE_INFINITY;
  /** Index of the incumbent observation (kept between refits; see chooseIncumbent). */
  private incumbentIndex = -1;

  constructor(readonly opts: OptimizerOptions) {
    this.space = new KnobSpace(opts.knobs);
    this.rng = createRng(opts.seed ?? 1);
    this.warm = (opts.warmStart ?? []).slice(0, 4);
    this.trLength = opts.trustRegion?.initial ?? 0.2;
    const numeric = opts.knobs.filter((k) => k.type !== 'choice');
    this.designQueue =
      (opts.localDesign ?? 'both') === 'both'
        ? numeric.flatMap((k) => [{ k, dir: -1 as const }, { k, dir: 1 as const }])
        : opts.localDesign === true
          ? numeric.map((k) => ({ k, dir: 0 as const }))
          : [];
  }

  get trustRegionLength(): number {
    return this.trLength;
  }

  tell(obs: Observation): void {
    this.observations.push({ ...obs, config: { ...obs.config }, constraints: { ...obs.constraints }, ...(obs.constraintSe ? { constraintSe: { ...obs.constraintSe } } : {}) });
    this.models = undefined;
    // Trust-region bookkeeping (TuRBO): grow after successes, shrink after failures.
    const feasible = isFeasible(obs, this.opts.constraints);
    const improved = !Number.isFinite(this.bestObserved) || obs.objective < this.bestObserved - 1e-3 * Math.abs(this.bestObserved);
    if (feasible && improved) {
      this.bestObserved = obs.objective;
      this.successes++;
      this.failures = 0;
    } else if (this.observations.length > 1) {
      this.failures++;
      this.successes = 0;
    }
    const tr = this.opts.trustRegion ?? {};
    const max = tr.max ?? 0.6;
    const min = tr.min ?? 0.02;
    if (this.successes >= 3) {
      this.trLength = Math.min(2 * this.trLength, max);
      this.successes = 0;
    } else if (this.failures >= Math.max(4, this.space.dims)) {
      this.failures = 0;
      this.trLength /= 2;
      if (this.trLength < min) this.trLength = tr.initial ?? 0.2;
    }
  }

  private cost(config: Config): number {
    const c = this.opts.knownCost?.(config) ?? 0;
    return Number.isFinite(c) ? c : 0;
  }

  /** The measured part of an observation's objective (objective − known cost). */
  private measured(o: Observation): number {
    if (!Number.isFinite(o.objective)) return o.objective;
    const v = o.objective - this.cost(o.config);
    return (this.opts.objectiveTransform ?? 'log') === 'log' ? Math.max(v, 1e-6 * Math.max(1, Math.abs(o.objective))) : v;
  }

  /** Objective in metric units from the GP's transformed mean of the measured part. */
  private composite(mean: number, config: Config): number {
    return untransformValue(this.opts.objectiveTransform ?? 'log', mean) + this.cost(config);
  }

  private fit(): Models {
    if (this.models) return this.models;
    const xs = this.observations.map((o) => this.space.encode(o.config));
    const objTr = this.opts.objectiveTransform ?? 'log';
    // Clip catastrophic values (crashes, overload cliffs) at 10× the best feasible so one
    // cliff does not flatten the whole surface.
    const feasibleObj = this.observations.filter((o) => isFeasible(o, this.opts.constraints)).map((o) => this.measured(o));
    const allObj = this.observations.filter((o) => Number.isFinite(o.objective)).map((o) => this.measured(o));
    const ref = feasibleObj.length ? Math.min(...feasibleObj) : allObj.length ? Math.min(...allObj) : 1;
    const cap = transformValue(objTr, Math.abs(ref) * 10 || 10);
    const worst = allObj.length ? Math.max(...allObj.map((v) => transformValue(objTr, v))) : cap;
    const y = this.observations.map((o) => {
      const v = Number.isFinite(o.objective) ? transformValue(objTr, this.measured(o)) : Math.max(worst, cap);
      return Math.min(v, cap);
    });
    const noiseSd = this.opts.objectiveNoiseSd ?? 0.03;
    // Readings that come with their standard error get it as their own noise (heteroscedastic);
    // readings without one get the floor. Without any se the floor bounds the fitted noise.
    const ses = this.observations.map((o) => (Number.isFinite(o.objective) ? transformSe(objTr, this.measured(o), o.objectiveSe) : undefined));
    const withSe = this.opts.useStandardErrors === true && ses.some((v) => v !== undefined);
    const floorVar = noiseSd > 0 && objTr === 'log' ? noiseSd * noiseSd : undefined;
    const objective = GaussianProcess.fit(xs, y, {
      init: this.hyper.objective,
      linearTrend: this.opts.linearTrend ?? false,
      noiseFloorTarget: withSe ? undefined : floorVar,
      pointNoise: withSe ? ses.map((v) => (v !== undefined ? v * v : (floorVar ?? 0))) : undefined,
    });
    this.hyper.objective = objective.hyper;
    const floor = this.opts.constraintFloor ?? 1 / 30;
    const constraints = this.opts.constraints.map((c, i) => {
      const seT = this.observations.map((o) => transformSe(c.transform, o.constraints[c.name], o.constraintSe?.[c.name]));
      const cWithSe = this.opts.useStandardErrors === true && seT.some((v) => v !== undefined);
      const ys = this.observations.map((o) => {
        const v = o.constraints[c.name];
        // A failed trial without a reading counts as a clear violation.
        let raw = v === undefined || !Number.isFinite(v) ? (c.transform === 'logit' ? 0.5 : Math.abs(c.max) * 2 + 1) : v;
        if ((c.transform === 'logit' || c.transform === 'log') && c.max > 0) raw = Math.max(raw, c.max * floor);
        const t = transformValue(c.transform, raw);
        const limit = transformValue(c.transform, c.max);
        // Cap far violations too: the boundary is what matters.
        return Math.min(t, limit + 3 * Math.max(1, Math.abs(limit)));
      });
      const gp = GaussianProcess.fit(xs, ys, { init: this.hyper.constraints[i], pointNoise: cWithSe ? seT.map((v) => (v !== undefined ? v * v : 0)) : undefined });
      this.hyper.constraints[i] = gp.hyper;
      return gp;
    });
    this.models = { objective, constraints, xs };
    this.incumbentIndex = this.chooseIncumbent(this.models);
    return this.models;
  }

  /** Posterior predictions at a configuration (transformed scale for the sds). */
  predict(config: Config): Proposal['predicted'] {
    if (this.observations.length === 0) return undefined;
    const m = this.fit();
    const x = this.space.encode(config);
    const objTr = this.opts.objectiveTransform ?? 'log';
    const po = m.objective.predict(x);
    const constraints: Record<string, Prediction & { pof: number }> = {};
    this.opts.constraints.forEach((c, i) => {
      const p = m.constraints[i].predict(x);
      const sd = Math.sqrt(p.variance);
      constraints[c.name] = { mean: untransformValue(c.transform, p.mean), sd, pof: probabilityOfFeasibility(p.mean, sd, transformValue(c.transform, c.max)) };
    });
    void objTr;
    return { objective: { mean: this.composite(po.mean, config), sd: Math.sqrt(po.variance) }, constraints };
  }

  /**
   * The incumbent: among observed points that were feasible when measured and are feasible
   * in posterior mean, the one with the best posterior mean objective.
   */
  best(): { config: Config; predictedObjective: number; index: number } | undefined {
    if (this.observations.length === 0) return undefined;
    const m = this.fit();
    const i = this.incumbentIndex;
    if (i < 0) return undefined;
    const mu = m.objective.predict(m.xs[i]).mean;
    return { config: { ...this.observations[i].config }, predictedObjective: this.composite(mu, this.observations[i].config), index: i };
  }

  /**
   * Chooses the incumbent after a refit: the best posterior mean among points feasible when
   * measured and in posterior mean (else among points feasible when measured). The previous
   * incumbent is kept unless the new one is better by more than `switchSd` posterior sds of
   * the difference: on a plateau, noise alone must not move the centre of the search (and the
   * service's config) to wherever the luckiest measurement happened to be.
   */
  private chooseIncumbent(m: Models): number {
    // Posterior of the full objective at each observed point: measured part (GP) + known cost;
    // the sd is carried over from the transformed scale (first order).
    const objMeans = this.observations.map((o, i) => {
      const p = m.objective.predict(m.xs[i]);
      const mean = this.composite(p.mean, o.config);
      const scale = (this.opts.objectiveTransform ?? 'log') === 'log' ? untransformValue('log', p.mean) : 1;
      return { mean, variance: p.variance * scale * scale };
    });
    const observedFeasible = this.observations.map((o) => isFeasible(o, this.opts.constraints));
    const meanFeasible = this.observations.map((_, i) =>
      this.opts.constraints.every((c, k) => m.constraints[k].predict(m.xs[i]).mean <= transformValue(c.transform, c.max)),
    );
    const argmin = (ok: (i: number) => boolean): number => {
      let bestI = -1;
      for (let i = 0; i < this.observations.length; i++) if (ok(i) && (bestI < 0 || objMeans[i].mean < objMeans[bestI].mean)) bestI = i;
      return bestI;
    };
    let eligible = (i: number) => observedFeasible[i] && meanFeasible[i];
    let cand = argmin(eligible);
    if (cand < 0) {
      eligible = (i: number) => observedFeasible[i];
      cand = argmin(eligible);
    }
    const prev = this.incumbentIndex;
    const z = this.opts.switchSd ?? 0;
    if (cand >= 0 && prev >= 0 && prev !== cand && prev < this.observations.length && eligible(prev) && z > 0) {
      const diff = objMeans[prev].mean - objMeans[cand].mean;
      if (diff < z * Math.sqrt(objMeans[prev].variance + objMeans[cand].variance)) return prev;
    }
    return cand;
  }

  /** Indices of up to k distinct measured configs eligible as incumbent, best posterior mean first. */
  private topObserved(m: Models, k: number): number[] {
    const seen = new Set<string>();
    const rows: Array<{ i: number; mean: number }> = [];
    this.observations.forEach((o, i) => {
      if (!isFeasible(o, this.opts.constraints)) return;
      if (!this.opts.constraints.every((c, j) => m.constraints[j].predict(m.xs[i]).mean <= transformValue(c.transform, c.max))) return;
      const key = this.space.key(o.config);
      if (seen.has(key)) return;
      seen.add(key);
      rows.push({ i, mean: this.composite(m.objective.predict(m.xs[i]).mean, o.config) });
    });
    return rows.sort((a, b) => a.mean - b.mean).slice(0, k).map((r) => r.i);
  }

  /** The design's anchor, or the measured feasible config that beat its reading beyond the noise. */
  private moveDesignAnchor(anchor: Config): Config {
    const key = this.space.key(anchor);
    const at = this.observations.find((o) => this.space.key(o.config) === key);
    if (!at || !(at.objective > 0)) return anchor;
    const margin = 2 * Math.SQRT2 * (this.opts.objectiveNoiseSd ?? 0.03);
    let best = at;
    for (const o of this.observations) if (o.objective > 0 && o.objective < best.objective && isFeasible(o, this.opts.constraints)) best = o;
    return Math.log(at.objective) - Math.log(best.objective) > margin ? { ...best.config } : anchor;
  }

  /** The next configuration to try, given the one in effect now (proposals respect step limits from it). */
  ask(current: Config, opts: { admissible?: (c: Config) => boolean } = {}): Proposal {
    const knobs = this.opts.knobs;
    const admissible = opts.admissible ?? (() => true);
    if (this.observations.length === 0) return { config: limitConfig(knobs, current, current).config, reason: 'baseline' };
    const tried = new Set(this.observations.map((o) => this.space.key(o.config)));
    while (this.warm.length) {
      const w = limitConfig(knobs, current, this.warm.shift() as Config).config;
      if (!tried.has(this.space.key(w)) && admissible(w)) return { config: w, reason: 'warm-start', predicted: this.predict(w) };
    }
    // Local initial design: one full step down and one up per numeric knob, so the GP sees the
    // local slope of every knob before it extrapolates; on plateaus with a cliff just beyond
    // the trust region this is what finds the cliff (step-limited from the config in effect).
    // Every step is taken from one anchor, the config the design started at, so each step
    // differs from it in one knob only: when the anchor followed the incumbent, a noisy
    // reading moved it (the cache: the timeout's step taken at the smaller cache a lucky
    // reading preferred), the steps were confounded, and the descent then moved the other
    // knob along with the timeout at every step. The anchor moves only to a design point that
    // beat it by more than 2·√2 noise sds (a real gain: a far-off optimum is still walked to).
    if (this.designQueue.length) this.designAnchor = this.moveDesignAnchor(this.designAnchor ?? current);
    while (this.designQueue.length) {
      const anchor = this.designAnchor ?? current;
      const { k, dir } = this.designQueue.shift() as { k: KnobSpec; dir: -1 | 0 | 1 };
      const cur = Number(anchor[k.name] ?? k.default);
      const [lo, hi] = allowedInterval(k, cur);
      const first = dir < 0 ? lo : dir > 0 ? hi : this.rng.next() < 0.5 ? lo : hi;
      const v = first !== cur ? first : first === lo ? hi : lo;
      if (v === cur) continue;
      const c = limitConfig(knobs, current, { ...anchor, [k.name]: v }).config;
      if (!tried.has(this.space.key(c)) && admissible(c)) return { config: c, reason: 'local-design', predicted: this.predict(c) };
    }
    const m = this.fit();
    const objTr = this.opts.objectiveTransform ?? 'log';
    const inc = this.best();
    const rep = this.opts.replicateTrials ?? 0;
    if (rep > 0 && this.opts.budget !== undefined && this.observations.length >= this.opts.budget - rep && inc) {
      // Replication: the final pick is the best posterior mean among measured points, so in the
      // last trials measure again whichever of the two best has the wider posterior.
      const top = this.topObserved(m, 2).filter((i) => admissible(limitConfig(knobs, current, this.observations[i].config).config));
      if (top.length) {
        const i = top.reduce((a, b) => (m.objective.predict(m.xs[b]).variance > m.objective.predict(m.xs[a]).variance ? b : a));
        const cfg = limitConfig(knobs, current, this.observations[i].config).config;
        return { config: cfg, reason: 're-measure', predicted: this.predict(cfg) };
      }
    }
    const center = inc ? this.space.encode(inc.config) : this.space.encode(current);
    // Best objective so far (metric units, cost included); a candidate improves when its measured
    // part falls below fBest − its own known cost.
    let fBestTotal = inc ? inc.predictedObjective : Math.min(...this.observations.map((o) => o.objective));
    const aei = this.opts.acquisition === 'aei';
    const noiseVar = m.objective.noiseVariance();
    if (aei) {
      // Augmented EI (Huang et al. 2006): the reference is the "effective best", the observed
      // point with the least μ + σ (a lucky reading with a wide posterior does not set the bar),
      // and EI is discounted where one more noisy reading cannot narrow the posterior.
      let eff = Number.POSITIVE_INFINITY;
      this.observations.forEach((o, i) => {
        if (!isFeasible(o, this.opts.constraints)) return;
        const p = m.objective.predict(m.xs[i]);
        eff = Math.min(eff, this.composite(p.mean + Math.sqrt(p.variance), o.config));
      });
      if (Number.isFinite(eff)) fBestTotal = eff;
    }
    const limits = this.opts.constraints.map((c) => transformValue(c.transform, c.max));
    const safetySd = this.opts.safetySd ?? 1.5;
    const nCand = this.opts.candidates ?? 300;
    const L = this.trLength;
    const blocks = this.space.choiceBlocks();
    const candidates: number[][] = [];
    for (let i = 0; i < nCand; i++) {
      const x = center.slice();
      if (i % 2 === 0) {
        // uniform in the trust-region box
        for (let d = 0; d < x.length; d++) x[d] = Math.min(1, Math.max(0, center[d] + (this.rng.next() - 0.5) * L));
      } else {
        // Gaussian perturbation of a few coordinates of the incumbent
        const p = Math.min(1, 2 / x.length + 0.2);
        let moved = false;
        for (let d = 0; d < x.length; d++) {
          if (this.rng.next() < p) {
            x[d] = Math.min(1, Math.max(0, center[d] + this.rng.normal() * L * 0.35));
            moved = true;
          }
        }
        if (!moved) {
          const d = this.rng.int(0, x.length - 1);
          x[d] = Math.min(1, Math.max(0, center[d] + this.rng.normal() * L * 0.35));
        }
      }
      for (const b of blocks) {
        // categorical: keep the incumbent's choice or switch to a random one (Hamming step)
        if (this.rng.next() < 0.2) {
          for (let j = 0; j < b.size; j++) x[b.offset + j] = 0;
          x[b.offset + this.rng.int(0, b.size - 1)] = 1;
        } else for (let j = 0; j < b.size; j++) x[b.offset + j] = center[b.offset + j];
      }
      candidates.push(x);
    }
    // Full-step moves per knob from the current config: on a plateau (a cliff just beyond the
    // trust region) the largest allowed step is often the only informative one.
    for (const k of knobs) {
      if (k.type === 'choice') continue;
      const cur = Number(current[k.name] ?? k.default);
      for (const v of allowedInterval(k, cur)) {
        if (v !== cur) candidates.push(this.space.encode({ ...current, [k.name]: v }));
      }
    }
    type Scored = { config: Config; score: number; safe: boolean; logEi: number; logPof: number };
    const scored: Scored[] = [];
    const seen = new Set<string>();
    // Knowledge gradient (acquisition 'kg'; the known cost is not separated): the reference set
    // is the measured points that were feasible when measured.
    const kg = this.opts.acquisition === 'kg';
    const kgSet = kg
      ? this.observations.flatMap((o, i) => (isFeasible(o, this.opts.constraints) ? [{ x: m.xs[i], mu: m.objective.predict(m.xs[i]).mean }] : []))
      : [];
    const kgNoise = m.objective.noiseVariance() + m.objective.typicalPointNoise();
    const score = (config: Config): Scored => {
      const xe = this.space.encode(config);
      const po = m.objective.predict(xe);
      const sd = Math.sqrt(po.variance);
      let logPof = 0;
      let safe = true;
      m.constraints.forEach((gp, k) => {
        const pc = gp.predict(xe);
        const sc = Math.sqrt(pc.variance);
        logPof += logProbabilityOfFeasibility(pc.mean, sc, limits[k]);
        if (pc.mean + safetySd * sc > limits[k]) safe = false;
      });
      if (kg && kgSet.length) {
        // One noisy reading at x moves the posterior mean at each reference point a by
        // Cov(a, x)/√(Var(x) + noise): the knowledge gradient over the measured points plus x.
        const s = Math.sqrt(po.variance + kgNoise);
        const mus = kgSet.map((a) => a.mu).concat(po.mean);
        const sig = kgSet.map((a) => m.objective.covariance(a.x, xe) / s).concat(po.variance / s);
        const logKg = Math.log(Math.max(knowledgeGradient(mus, sig), 1e-300));
        return { config, score: logKg + logPof, safe, logEi: logKg, logPof };
      }
      const room = fBestTotal - this.cost(config);
      let logEi = room > 0 || objTr !== 'log' ? logExpectedImprovement(po.mean, sd, transformValue(objTr, room)) : -1e6;
      if (aei) logEi += Math.log(Math.max(1e-12, 1 - Math.sqrt(noiseVar) / Math.sqrt(po.variance + noiseVar)));
      return { config, score: logEi + logPof, safe, logEi, logPof };
    };
    for (const x of candidates) {
      const config = limitConfig(knobs, current, this.space.decode(x)).config;
      const key = this.space.key(config);
      if (seen.has(key)) continue;
      seen.add(key);
      // Rejected before measuring (the service's analytic utilisation pre-check).
      if (!admissible(config)) continue;
      scored.push(score(config));
    }
    // Safe and new first. An incumbent on a constraint boundary leaves few points passing
    // μ + 2σ ≤ limit, often only already-measured ones in retreat: measuring those again
    // teaches nothing, so then take new points that are more likely feasible than not.
    const fresh = (x: Scored) => !tried.has(this.space.key(x.config));
    let pool = scored.filter((x) => x.safe && fresh(x));
    if (pool.length === 0) pool = scored.filter((x) => x.logPof > Math.log(0.5) && fresh(x));
    if (pool.length === 0 || scored.length === 0) {
      const cfg = inc ? limitConfig(knobs, current, inc.config).config : { ...current };
      return { config: cfg, reason: 're-measure', predicted: this.predict(cfg) };
    }
    pool.sort((a, b) => b.score - a.score);
    let pick = pool[0];
    // Parsimony: a knob moves away from the incumbent only when that move earns at least
    // `sparsity` nats of acquisition. Otherwise knobs whose effect is below the noise drift
    // with every multi-knob move and the incumbent inherits whatever values were lucky.
    const sparsity = this.opts.sparsity ?? 0;
    const base = inc ? inc.config : current;
    if (sparsity > 0) {
      for (let changed = true; changed; ) {
        changed = false;
        for (const k of knobs) {
          if (pick.config[k.name] === base[k.name]) continue;
          const c = limitConfig(knobs, current, { ...pick.config, [k.name]: base[k.name] }).config;
          if (this.space.key(c) === this.space.key(pick.config) || tried.has(this.space.key(c)) || !admissible(c)) continue;
          const sc = score(c);
          if (sc.safe && sc.score >= pick.score - sparsity) {
            pick = sc;
            changed = true;
          }
        }
      }
    }
    const predicted = this.predict(pick.config);
    const explore = predicted !== undefined && inc !== undefined && predicted.objective.mean > inc.predictedObjective;
    const reason: ProposalReason = tried.has(this.space.key(pick.config)) ? 're-measure' : explore ? 'explore' : 'exploit';
    return { config: pick.config, reason, predicted, logEi: pick.logEi, pof: Math.exp(pick.logPof) };
  }
}
