// A cache-backed service (the feature/candidate cache in front of a store): LRU of
// cacheSize entries with a TTL, misses go to a backend modelled as M/M/c with a slow path
// (GC pauses, cold shards); an attempt slower than the client timeout is abandoned and
// retried once, which adds load (retry amplification). Hit rate by Che's approximation over
// Zipf popularity, combined with the TTL (notes/tuning.md "Cache", "Retries").

import type { Observation } from '../optimizer';
import type { Rng } from '../random';
import type { Config } from '../space';
import { mmcSojournCdf, quantileByBisection } from './queueing';
import { p99NoiseSd, WINDOW_REQUESTS, windowStandardErrors } from './types';
import type { SimMetrics, SimScenario } from './types';

export interface CacheRegime {
  /** Requests per second. */
  rate: number;
  /** Zipf exponent of key popularity (the request mix). */
  zipf: number;
}

const KEYS = 2_000_000;
const BACKEND_SERVERS = 8;
const BACKEND_MEAN_MS = 4;
const SLOW_SHARE = 0.03;
const SLOW_EXTRA_MS = 60;
const HIT_MS = 0.5;
const MEMORY_COST_MS_PER_100K = 0.4; // cost term: RAM held by the cache
const STALENESS_COST_MS_PER_HOUR = 3; // cost term: serving data up to TTL old

interface KeyGroups {
  count: number[];
  share: number[]; // request share per key in the group
}

const groupCache = new Map<number, KeyGroups>();

/** Zipf popularity in ~300 log-spaced rank groups (exact enough, fast). */
function keyGroups(zipf: number): KeyGroups {
  const cached = groupCache.get(zipf);
  if (cached) return cached;
  const count: number[] = [];
  const weight: number[] = [];
  let start = 1;
  let total = 0;
  while (start <= KEYS) {
    const end = Math.min(KEYS, Math.max(start, Math.floor(start * 1.05)));
    const n = end - start + 1;
    const mid = Math.sqrt(start * end);
    const w = Math.pow(mid, -zipf);
    count.push(n);
    weight.push(w);
    total += n * w;
    start = end + 1;
  }
  const g = { count, share: weight.map((w) => w / total) };
  groupCache.set(zipf, g);
  return g;
}

const characteristicTimeCache = new Map<string, number>();

/** Che's characteristic time t_C: Σ(1 − e^(−λ_i·t_C)) = size (memoised: the grid repeats sizes). */
function characteristicTime(size: number, r: CacheRegime, g: KeyGroups): number {
  const key = `${size}|${r.rate}|${r.zipf}`;
  const cached = characteristicTimeCache.get(key);
  if (cached !== undefined) return cached;
  const occupancy = (t: number): number => g.count.reduce((acc, n, i) => acc + n * (1 - Math.exp(-r.rate * g.share[i] * t)), 0);
  let tc: number;
  if (size >= KEYS) tc = Number.POSITIVE_INFINITY;
  else {
    let lo = 0;
    let hi = 1;
    while (occupancy(hi) < size && hi < 1e12) hi *= 4;
    for (let i = 0; i < 50; i++) {
      const mid = 0.5 * (lo + hi);
      if (occupancy(mid) < size) lo = mid;
      else hi = mid;
    }
    tc = hi;
  }
  if (characteristicTimeCache.size > 100_000) characteristicTimeCache.clear();
  characteristicTimeCache.set(key, tc);
  return tc;
}

/** Hit ratio of an LRU of `size` entries with TTL `ttlS` at `rate` req/s. */
export function hitRatio(size: number, ttlS: number, r: CacheRegime): number {
  const g = keyGroups(r.zipf);
  const tc = characteristicTime(size, r, g);
  let h = 0;
  for (let i = 0; i < g.count.length; i++) {
    const l = r.rate * g.share[i];
    const lru = Number.isFinite(tc) ? 1 - Math.exp(-l * tc) : 1;
    const ttl = (l * ttlS) / (1 + l * ttlS);
    h += g.count[i] * g.share[i] * Math.min(lru, ttl);
  }
  return h;
}

export function cacheMetrics(config: Config, r: CacheRegime): SimMetrics & { hit: number } {
  const size = Number(config.cacheSize);
  const ttl = Number(config.ttlS);
  const tau = Number(config.clientTimeoutMs);
  const hit = hitRatio(size, ttl, r);
  const cost = (MEMORY_COST_MS_PER_100K * size) / 100_000 + (STALENESS_COST_MS_PER_HOUR * ttl) / 3600;
  const lambdaMiss = (r.rate / 1000) * (1 - hit); // per ms
  const mu = 1 / BACKEND_MEAN_MS;
  // Retry amplification A = 1 + P(X > τ) depends on load: damped fixed point.
  let amp = 1;
  let pSlow = 0;
  let rho = 0;
  let attemptCdf = (_t: number): number => 0;
  let stable = true;
  for (let it = 0; it < 30; it++) {
    const lam = lambdaMiss * amp;
    rho = (lam * BACKEND_MEAN_MS) / BACKEND_SERVERS;
    if (rho >= 0.999) {
      stable = false;
      break;
    }
    attemptCdf = (t: number) => (1 - SLOW_SHARE) * mmcSojournCdf(t, BACKEND_SERVERS, lam, mu) + SLOW_SHARE * mmcSojournCdf(t - SLOW_EXTRA_MS, BACKEND_SERVERS, lam, mu);
    pSlow = 1 - attemptCdf(tau);
    const next = 1 + pSlow;
    if (Math.abs(next - amp) < 1e-6) break;
    amp = 0.5 * amp + 0.5 * next;
  }
  if (!stable) {
    return { objective: 2 * tau + 200 + cost, p99Ms: 2 * tau + 200, hit, constraints: { utilisation: rho, errorRate: 0.2, retryAmplification: 2 } };
  }
  // Latency of a miss: first attempt if ≤ τ, else τ + second attempt (an error at 2τ).
  const missCdf = (t: number): number => {
    const first = attemptCdf(Math.min(t, tau));
    if (t <= tau) return first;
    return first + pSlow * attemptCdf(Math.min(t - tau, tau));
  };
  const cdf = (t: number): number => (t < HIT_MS ? 0 : hit + (1 - hit) * (t - HIT_MS <= 0 ? 0 : missCdf(t - HIT_MS)));
  const p99 = quantileByBisection(cdf, 0.99, 0, 2 * tau + HIT_MS + 1e-6);
  const errorRate = (1 - hit) * pSlow * pSlow;
  return { objective: p99 + cost, p99Ms: p99, hit, constraints: { utilisation: rho, errorRate, retryAmplification: amp } };
}

export const cacheScenario: SimScenario<CacheRegime> = {
  name: 'cache-backed',
  knobs: [
    { name: 'cacheSize', type: 'int', min: 1000, max: 1_000_000, log: true, maxStep: 2, default: 50_000 },
    { name: 'ttlS', type: 'float', min: 1, max: 3600, log: true, maxStep: 3, default: 60 },
    { name: 'clientTimeoutMs', type: 'float', min: 2, max: 200, log: true, maxStep: 2, default: 100 },
  ],
  constraints: [
    { name: 'utilisation', max: 0.85 },
    { name: 'errorRate', max: 0.005, transform: 'logit' },
    { name: 'retryAmplification', max: 1.1 },
  ],
  regimes: [
    { name: '300rps-zipf0.9', params: { rate: 300, zipf: 0.9 } },
    { name: '1500rps-zipf0.9', params: { rate: 1500, zipf: 0.9 } },
    { name: '4000rps-zipf1.1', params: { rate: 4000, zipf: 1.1 } },
  ],
  evaluate: (c, r) => cacheMetrics(c, r),
  cost: (c) => (MEMORY_COST_MS_PER_100K * Number(c.cacheSize)) / 100_000 + (STALENESS_COST_MS_PER_HOUR * Number(c.ttlS)) / 3600,
  observe(c, r, rng: Rng): Observation {
    const m = cacheMetrics(c, r);
    const rho = m.constraints.utilisation;
    const sd = p99NoiseSd(rho);
    const p99 = m.p99Ms * Math.exp(sd * rng.normal());
    const err = m.constraints.errorRate;
    const constraints = {
      utilisation: rho * Math.exp(0.02 * rng.normal()),
      errorRate: Math.max(0, err + Math.sqrt((err * (1 - err)) / WINDOW_REQUESTS + 1e-8) * rng.normal()),
      retryAmplification: 1 + (m.constraints.retryAmplification - 1) * Math.exp(0.05 * rng.normal()),
    };
    return { config: { ...c }, objective: p99 + (m.objective - m.p99Ms), constraints, ...windowStandardErrors(p99, constraints, { retryAmplification: (v) => 0.05 * Math.max(0, v - 1) }) };
  },
  grid(): Config[] {
    const out: Config[] = [];
    const logGrid = (lo: number, hi: number, n: number) => Array.from({ length: n + 1 }, (_, i) => lo * Math.pow(hi / lo, i / n));
    for (const cacheSize of logGrid(1000, 1_000_000, 30).map(Math.round))
      for (const ttlS of logGrid(1, 3600, 30)) for (const clientTimeoutMs of logGrid(2, 200, 30)) out.push({ cacheSize, ttlS, clientTimeoutMs });
    return out;
  },
};
