// Closed-form queueing pieces shared by the simulator's service models (M/M/c, Erlang C).

/** Erlang C: probability an arrival waits in M/M/c with offered load a = λ/μ, via the stable Erlang-B recursion. */
export function erlangC(c: number, a: number): number {
  if (a <= 0) return 0;
  if (a >= c) return 1;
  let b = 1;
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b);
  const rho = a / c;
  return b / (1 - rho * (1 - b));
}

/** P(sojourn ≤ t) in M/M/c (exponential service at rate mu per server, arrival rate lambda). */
export function mmcSojournCdf(t: number, c: number, lambda: number, mu: number): number {
  if (t <= 0) return 0;
  const a = lambda / mu;
  if (a >= c) return 0;
  const C = erlangC(c, a);
  const theta = c * mu - lambda; // decay rate of the waiting time
  if (Math.abs(theta - mu) < 1e-9 * mu) {
    // limit case cμ − λ = μ: P(T > t) = e^{−μt}(1 + C·μ·t)
    return 1 - Math.exp(-mu * t) * (1 + C * mu * t);
  }
  const tail = Math.exp(-mu * t) + ((C * mu) / (theta - mu)) * (Math.exp(-mu * t) - Math.exp(-theta * t));
  return Math.min(1, Math.max(0, 1 - tail));
}

/** Smallest t with cdf(t) ≥ p, by bisection on [lo, hi]; hi when never reached. */
export function quantileByBisection(cdf: (t: number) => number, p: number, lo: number, hi: number): number {
  if (cdf(hi) < p) return hi;
  for (let i = 0; i < 60; i++) {
    const mid = 0.5 * (lo + hi);
    if (cdf(mid) >= p) hi = mid;
    else lo = mid;
    if (hi - lo < 1e-4 * Math.max(1, hi)) break;
  }
  return hi;
}
