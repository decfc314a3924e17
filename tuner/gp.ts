// Gaussian-process regression with a Matérn-5/2 ARD kernel over inputs in [0,1]^D.
// Targets are standardised; hyper-parameters are a MAP estimate (weak log-normal priors)
// found by Nelder–Mead in log space, warm-started from the previous fit. Cholesky retries
// with growing jitter, so a near-singular kernel degrades the fit instead of throwing.
// Hand-written on Float64Array: n ≤ a few hundred and this runs thousands of times per
// simulator benchmark, where ml-matrix's per-call object overhead dominated.

import { nelderMead } from './nelder-mead';

export interface GpHyper {
  /** Per-dimension length scales (inputs in [0,1]). */
  lengthscales: number[];
  /** Kernel variance, in standardised target units. */
  signalVar: number;
  /** Observation noise variance, in standardised target units. */
  noiseVar: number;
  /**
   * Variance of a linear trend term σ_lin²·(x − ½)·(x′ − ½) added to the Matérn kernel (0 or
   * absent = none). With it the posterior mean keeps a measured slope beyond the data instead
   * of reverting to the constant mean, so a full step down a slope is predicted as better.
   */
  linearVar?: number;
}

export interface GpFitOptions {
  /** Starting hyper-parameters (the previous fit); defaults otherwise. */
  init?: GpHyper;
  /** Skip the hyper-parameter search and use init/defaults as they are. */
  fixed?: boolean;
  /** Lower bound on the noise variance (standardised units). */
  noiseFloor?: number;
  /** Lower bound on the noise variance in target units (the known measurement noise). */
  noiseFloorTarget?: number;
  /** Add the linear trend term (its variance is fitted with the other hyper-parameters). */
  linearTrend?: boolean;
  /**
   * Known noise variance of each observation, in target units (a heteroscedastic GP: the
   * squared standard error reported with each reading). It is added to the diagonal on top of
   * the fitted homoscedastic noise, so a reading with a large se pulls the posterior less than
   * one with a small se. Absent or non-finite entries count as 0.
   */
  pointNoise?: number[];
  maxEvaluations?: number;
}

const LOG_2PI = Math.log(2 * Math.PI);
const SQRT5 = Math.sqrt(5);
const LS_MIN = 0.02;
const LS_MAX = 20;

export function matern52(r: number): number {
  const s = SQRT5 * r;
  return (1 + s + (s * s) / 3) * Math.exp(-s);
}

/** Lower-triangular Cholesky factor (row-major n×n) or undefined when not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(sum > 0)) return undefined;
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j];
      }
    }
  }
  return l;
}

/** Solves L·x = b (forward substitution). */
function solveLower(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

/** Solves Lᵀ·x = b (back substitution). */
function solveUpper(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

function kernelValue(a: number[], b: number[], invLs2: number[], h: GpHyper): number {
  let r2 = 0;
  let dot = 0;
  for (let d = 0; d < a.length; d++) {
    const diff = a[d] - b[d];
    r2 += diff * diff * invLs2[d];
    dot += (a[d] - 0.5) * (b[d] - 0.5);
  }
  return h.signalVar * matern52(Math.sqrt(r2)) + (h.linearVar ?? 0) * dot;
}

interface Factor {
  l: Float64Array;
  alpha: Float64Array;
  logDet: number;
  jitter: number;
}

function factorize(x: number[][], y: Float64Array, h: GpHyper, pointNoise?: Float64Array): Factor | undefined {
  const n = x.length;
  const invLs2 = h.lengthscales.map((l) => 1 / (l * l));
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = kernelValue(x[i], x[j], invLs2, h);
      k[i * n + j] = v; // fill both halves from one value: exactly symmetric
      k[j * n + i] = v;
    }
    k[i * n + i] = kernelValue(x[i], x[i], invLs2, h) + h.noiseVar + (pointNoise ? pointNoise[i] : 0);
  }
  const diag = Float64Array.from({ length: n }, (_, i) => k[i * n + i]);
  let jitter = 0;
  for (let attempt = 0; attempt < 6; attempt++) {
    if (jitter > 0) for (let i = 0; i < n; i++) k[i * n + i] = diag[i] + jitter;
    const l = cholesky(k, n);
    if (l) {
      const alpha = solveUpper(l, n, solveLower(l, n, y));
      let logDet = 0;
      for (let i = 0; i < n; i++) logDet += 2 * Math.log(l[i * n + i]);
      return { l, alpha, logDet, jitter };
    }
    jitter = jitter === 0 ? 1e-8 * h.signalVar : jitter * 10;
  }
  return undefined;
}

/** Log-normal prior of each length scale (inputs in [0, 1]): median and sd of its log. */
const LENGTHSCALE_PRIOR_MEDIAN = 0.4;
const LENGTHSCALE_PRIOR_LOG_SD = 0.8;

function defaultHyper(dims: number): GpHyper {
  return { lengthscales: new Array<number>(dims).fill(0.4), signalVar: 1, noiseVar: 0.01 };
}

export class GaussianProcess {
  private constructor(
    readonly x: number[][],
    readonly yRaw: number[],
    private readonly yMean: number,
    private readonly yStd: number,
    readonly hyper: GpHyper,
    private readonly factor: Factor,
    /** Per-point known noise variance (standardised units), if any. */
    private readonly pointNoise: Float64Array | undefined,
    /** Log marginal likelihood of the standardised targets under `hyper`. */
    readonly logMarginalLikelihood: number,
  ) {}

  static fit(x: number[][], y: number[], opts: GpFitOptions = {}): GaussianProcess {
    if (x.length === 0 || x.length !== y.length) throw new Error('GaussianProcess.fit: need as many targets as inputs (at least one)');
    const dims = x[0].length;
    const n = x.length;
    const mean = y.reduce((a, b) => a + b, 0) / n;
    const variance = y.reduce((a, b) => a + (b - mean) * (b - mean), 0) / n;
    const std = variance > 1e-24 ? Math.sqrt(variance) : 1;
    const ys = Float64Array.from(y, (v) => (v - mean) / std);
    const pointNoise =
      opts.pointNoise && opts.pointNoise.length === n
        ? Float64Array.from(opts.pointNoise, (v) => (Number.isFinite(v) && v > 0 ? v / (std * std) : 0))
        : undefined;
    // A floor given in target units (e.g. the known measurement noise of a p99) becomes one
    // in standardised units.
    const noiseFloor = Math.min(0.5, Math.max(opts.noiseFloor ?? 1e-6, opts.noiseFloorTarget !== undefined ? opts.noiseFloorTarget / (std * std) : 0));
    const linear = opts.linearTrend === true;
    const fresh = (): GpHyper => ({ ...defaultHyper(dims), ...(linear ? { linearVar: 0.1 } : {}) });
    const init = opts.init && opts.init.lengthscales.length === dims ? { ...opts.init, ...(linear && !(opts.init.linearVar! > 0) ? { linearVar: 0.1 } : {}) } : fresh();

    const unpack = (t: number[]): GpHyper => ({
      lengthscales: t.slice(0, dims).map((v) => Math.min(LS_MAX, Math.max(LS_MIN, Math.exp(v)))),
      signalVar: Math.min(20, Math.max(0.05, Math.exp(t[dims]))),
      noiseVar: Math.min(1, Math.max(noiseFloor, Math.exp(t[dims + 1]))),
      ...(linear ? { linearVar: Math.min(20, Math.max(1e-4, Math.exp(t[dims + 2]))) } : {}),
    });
    const pack = (h: GpHyper): number[] => [
      ...h.lengthscales.map(Math.log),
      Math.log(h.signalVar),
      Math.log(Math.max(noiseFloor, h.noiseVar)),
      ...(linear ? [Math.log(Math.max(1e-4, h.linearVar ?? 0.1))] : []),
    ];
    const lml = (f: Factor): number => {
      let q = 0;
      for (let i = 0; i < n; i++) q += ys[i] * f.alpha[i];
      return -0.5 * q - 0.5 * f.logDet - 0.5 * n * LOG_2PI;
    };
    // Priors keep a handful of points from driving length scales to the bounds. The length
    // scales' is log-normal around 0.4 with sd 0.8 (a factor 2.2; 1.2 until session 7): with
    // 7-20 readings at ±4 % the weaker prior let the fit pick a short length scale that made
    // one lucky reading a local dip, which the acquisition then chased (the cache simulator's
    // share within 5 % over 120 seeds: 0.50/0.50/0.69 -> 0.64/0.52/0.76 at 300/1500/4000 rps;
    // the batching server's 500 rps 0.85 -> 0.75; docs/tuner.md).
    const logPrior = (t: number[]): number => {
      let p = 0;
      for (let d = 0; d < dims; d++) p -= 0.5 * ((t[d] - Math.log(LENGTHSCALE_PRIOR_MEDIAN)) / LENGTHSCALE_PRIOR_LOG_SD) ** 2;
      p -= 0.5 * (t[dims] / 1.5) ** 2;
      p -= 0.5 * ((t[dims + 1] - Math.log(0.01)) / 2.5) ** 2;
      if (linear) p -= 0.5 * ((t[dims + 2] - Math.log(0.1)) / 2) ** 2;
      return p;
    };
    const objective = (t: number[]): number => {
      const h = unpack(t);
      const f = factorize(x, ys, h, pointNoise);
      if (!f) return Number.POSITIVE_INFINITY;
      return -(lml(f) + logPrior(t));
    };

    let hyper = unpack(pack(init));
    if (!opts.fixed && n >= 2) {
      const starts = [pack(init)];
      if (opts.init) starts.push(pack(fresh()));
      let bestT = starts[0];
      let bestF = Number.POSITIVE_INFINITY;
      for (const s of starts) {
        const r = nelderMead(objective, s, { maxEvaluations: opts.maxEvaluations ?? 40 * (dims + (opts.linearTrend ? 3 : 2)), step: 0.7, tolerance: 1e-4 });
        if (r.fx < bestF) {
          bestF = r.fx;
          bestT = r.x;
        }
      }
      if (Number.isFinite(bestF)) hyper = unpack(bestT);
    }
    let factor = factorize(x, ys, hyper, pointNoise);
    if (!factor) {
      // Fall back to defaults with a large noise term: always factorizable.
      hyper = { ...fresh(), noiseVar: 0.5 };
      factor = factorize(x, ys, hyper, pointNoise) as Factor;
    }
    return new GaussianProcess(x, y, mean, std, hyper, factor, pointNoise, lml(factor));
  }

  /** Posterior mean and variance of the latent function at x, in target units. */
  predict(xs: number[]): { mean: number; variance: number } {
    const n = this.x.length;
    const invLs2 = this.hyper.lengthscales.map((l) => 1 / (l * l));
    const ks = new Float64Array(n);
    let mean = 0;
    for (let i = 0; i < n; i++) {
      ks[i] = kernelValue(xs, this.x[i], invLs2, this.hyper);
      mean += ks[i] * this.factor.alpha[i];
    }
    const v = solveLower(this.factor.l, n, ks);
    let vv = 0;
    for (let i = 0; i < n; i++) vv += v[i] * v[i];
    const variance = Math.max(1e-12, kernelValue(xs, xs, invLs2, this.hyper) - vv);
    return { mean: this.yMean + this.yStd * mean, variance: variance * this.yStd * this.yStd };
  }

  /**
   * Posterior covariance of the latent function between a and b, in target units (for a
   * knowledge-gradient step: how a reading at b would move the posterior mean at a).
   */
  covariance(a: number[], b: number[]): number {
    const n = this.x.length;
    const invLs2 = this.hyper.lengthscales.map((l) => 1 / (l * l));
    const ka = new Float64Array(n);
    const kb = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ka[i] = kernelValue(a, this.x[i], invLs2, this.hyper);
      kb[i] = kernelValue(b, this.x[i], invLs2, this.hyper);
    }
    const va = solveLower(this.factor.l, n, ka);
    const vb = solveLower(this.factor.l, n, kb);
    let dot = 0;
    for (let i = 0; i < n; i++) dot += va[i] * vb[i];
    return (kernelValue(a, b, invLs2, this.hyper) - dot) * this.yStd * this.yStd;
  }

  /** Median known per-point noise variance in target units (0 without per-point noise). */
  typicalPointNoise(): number {
    if (!this.pointNoise || this.pointNoise.length === 0) return 0;
    const s = Array.from(this.pointNoise).sort((p, q) => p - q);
    return s[Math.floor(s.length / 2)] * this.yStd * this.yStd;
  }

  /** Noise variance in target units (what a repeated measurement scatters by): the fitted homoscedastic part, plus the known noise of observation `i` when given. */
  noiseVariance(i?: number): number {
    const extra = i !== undefined && this.pointNoise ? this.pointNoise[i] : 0;
    return (this.hyper.noiseVar + extra) * this.yStd * this.yStd;
  }

  /** ARD relevance 1/ℓ per encoded dimension (unstable with few points: a hint, not a ranking). */
  relevance(): number[] {
    return this.hyper.lengthscales.map((l) => 1 / l);
  }
}
