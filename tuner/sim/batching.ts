// A batched inference server (the recsys model server): requests wait to form a batch of up
// to maxBatch for at most batchTimeoutMs, batches run on min(threads, cores) workers with
// service time α + β·b. Analytic model (notes/tuning.md "Batching"): expected batch size from
// the Poisson arrivals in the timeout, batch queueing as M/M/c with an Allen–Cunneen factor.

import type { Observation } from '../optimizer';
import type { Rng } from '../random';
import type { Config } from '../space';
import { erlangC } from './queueing';
import { p99NoiseSd, WINDOW_REQUESTS, windowStandardErrors, type SimMetrics, type SimScenario } from './types';

export interface BatchingRegime {
  /** Arrival rate, requests per ms. */
  lambdaPerMs: number;
}

const CORES = 8;
const ALPHA_MS = 2; // per-batch overhead
const BETA_MS = 0.6; // per-item cost
const DEADLINE_MS = 50; // client deadline: later answers count as errors
const THREAD_COST_MS = 0.15; // cost term: each thread's memory/CPU reservation, ms-equivalent
const AC_FACTOR = 0.65; // (c_a² + c_s²)/2 for batch arrivals/services, more regular than Poisson

function expectedBatch(maxBatch: number, lambda: number, timeoutMs: number): number {
  // E[b] = 1 + E[min(N, B − 1)], N ~ Poisson(λτ)
  const m = lambda * timeoutMs;
  let p = Math.exp(-m);
  let cdf = 0;
  let e = 0;
  for (let k = 0; k < maxBatch - 1; k++) {
    e += k * p;
    cdf += p;
    p = (p * m) / (k + 1);
  }
  e += (maxBatch - 1) * Math.max(0, 1 - cdf);
  return 1 + e;
}

export function batchingMetrics(config: Config, r: BatchingRegime): SimMetrics & { utilisation: number } {
  const threads = Number(config.threads);
  const maxBatch = Number(config.maxBatch);
  const tau = Number(config.batchTimeoutMs);
  const lambda = r.lambdaPerMs;
  const m = Math.min(threads, CORES);
  const oversub = 1 + 0.05 * Math.max(0, threads - CORES);
  const b = expectedBatch(maxBatch, lambda, tau);
  const s = (ALPHA_MS + BETA_MS * b) * oversub;
  const lambdaB = lambda / b;
  const a = lambdaB * s;
  const rho = a / m;
  const cost = THREAD_COST_MS * threads;
  if (rho >= 0.999) {
    return { objective: DEADLINE_MS * 4 + cost, p99Ms: DEADLINE_MS * 4, utilisation: rho, constraints: { utilisation: rho, errorRate: Math.min(1, 0.05 + (rho - 0.999) / rho) } };
  }
  // formation wait of the first request in a batch: min(τ, time for B − 1 more arrivals)
  const fill = maxBatch > 1 ? (maxBatch - 1) / lambda + 2.33 * Math.sqrt(maxBatch - 1) / lambda : 0;
  const formation = maxBatch > 1 ? Math.min(tau, fill) : 0;
  const C = erlangC(m, a);
  const theta = (m / s - lambdaB) / AC_FACTOR; // waiting-time decay rate
  const queueP99 = C > 0.01 ? Math.log(C / 0.01) / theta : 0;
  const p99 = formation + queueP99 + 1.3 * s;
  const slack = DEADLINE_MS - formation - 1.3 * s;
  const errorRate = slack <= 0 ? 1 : Math.min(1, C * Math.exp(-theta * slack));
  return { objective: p99 + cost, p99Ms: p99, utilisation: rho, constraints: { utilisation: rho, errorRate } };
}

function noisy(metrics: SimMetrics & { utilisation: number }, rng: Rng, config: Config): Observation {
  const rho = metrics.utilisation;
  // p99 from a canary-sized window (~10k requests) scatters a few %, more near capacity.
  const sd = 0.04 + 0.15 * Math.max(0, rho - 0.7);
  const p99 = metrics.p99Ms * Math.exp(sd * rng.normal());
  const cost = metrics.objective - metrics.p99Ms;
  const err = metrics.constraints.errorRate;
  const n = WINDOW_REQUESTS;
  const errObs = Math.max(0, err + Math.sqrt((err * (1 - err)) / n + 1e-8) * rng.normal());
  const constraints = { utilisation: rho * Math.exp(0.02 * rng.normal()), errorRate: errObs };
  return { config: { ...config }, objective: p99 + cost, constraints, ...windowStandardErrors(p99, constraints) };
}

export const batchingScenario: SimScenario<BatchingRegime> = {
  name: 'batched-inference',
  knobs: [
    { name: 'threads', type: 'int', min: 1, max: 16, maxStep: 3, default: 8 },
    { name: 'maxBatch', type: 'int', min: 1, max: 64, log: true, maxStep: 2, default: 16 },
    { name: 'batchTimeoutMs', type: 'float', min: 0.05, max: 20, log: true, maxStep: 2.5, default: 2 },
  ],
  constraints: [
    { name: 'utilisation', max: 0.85 },
    { name: 'errorRate', max: 0.01, transform: 'logit' },
  ],
  regimes: [
    { name: '500rps', params: { lambdaPerMs: 0.5 } },
    { name: '3000rps', params: { lambdaPerMs: 3 } },
    { name: '8000rps', params: { lambdaPerMs: 8 } },
  ],
  evaluate: (c, r) => batchingMetrics(c, r),
  cost: (c) => THREAD_COST_MS * Number(c.threads),
  observe: (c, r, rng) => noisy(batchingMetrics(c, r), rng, c),
  grid(): Config[] {
    const out: Config[] = [];
    const timeouts: number[] = [];
    for (let i = 0; i <= 60; i++) timeouts.push(0.05 * Math.pow(20 / 0.05, i / 60));
    for (let threads = 1; threads <= 16; threads++)
      for (let maxBatch = 1; maxBatch <= 64; maxBatch++) for (const batchTimeoutMs of timeouts) out.push({ threads, maxBatch, batchTimeoutMs });
    return out;
  },
};
