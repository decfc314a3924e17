// Seeded randomness and the small numeric helpers the services and the load generator share.

/** A fast seeded PRNG (mulberry32): reproducible runs with the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable 32-bit hash of a string (FNV-1a), for deterministic per-user/per-item data. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A deterministic embedding in [-1, 1]^dim for a key. */
export function embed(key: string, dim: number): number[] {
  const r = mulberry32(hash32(key));
  return Array.from({ length: dim }, () => r() * 2 - 1);
}

/** Zipf(s) sampler over ranks 1..n (rank 1 most popular), by inverse CDF. */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / Math.pow(k, s);
    cdf[k - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** Burns `ms` worth of CPU as a fixed amount of work (calibrated once), so contention makes it slower, like real compute. */
export function burnCpu(ms: number): number {
  const iters = Math.round(ms * itersPerMs());
  let x = 0;
  for (let i = 0; i < iters; i++) x += Math.sqrt(i + x * 1e-9);
  return x;
}

let calibrated = 0;
function itersPerMs(): number {
  if (calibrated) return calibrated;
  // Take the best of a few short runs, so a busy machine at start-up does not make the work too small.
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    let x = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) x += Math.sqrt(i + x * 1e-9);
    const dt = performance.now() - t0;
    if (x > 0 && dt > 0) best = Math.max(best, n / dt);
  }
  calibrated = best || 100_000;
  return calibrated;
}
