import { expectedImprovement, knowledgeGradient, logExpectedImprovement, probabilityOfFeasibility } from '../../tuner/acquisition';
import { GaussianProcess } from '../../tuner/gp';
import { logH, normCdf } from '../../tuner/normal';
import { RegimeOptimizer, transformSe } from '../../tuner/optimizer';

describe('Gaussian process (Matérn-5/2 ARD)', () => {
  it('interpolates known points when noise is small and shrinks variance at data', () => {
    const xs = [[0.1], [0.3], [0.5], [0.7], [0.9]];
    const ys = xs.map(([x]) => Math.sin(6 * x));
    const gp = GaussianProcess.fit(xs, ys, { noiseFloor: 1e-6 });
    xs.forEach(([x], i) => {
      const p = gp.predict([x]);
      expect(p.mean).toBeCloseTo(ys[i], 1);
    });
    const atData = gp.predict([0.5]).variance;
    const between = gp.predict([0.6]).variance;
    const far = gp.predict([2.0]).variance;
    expect(atData).toBeLessThan(between);
    expect(between).toBeLessThan(far);
  });

  it('is sensible on a 1-D known function: the posterior minimum lands near the true one', () => {
    const f = (x: number) => (x - 0.62) ** 2;
    const xs = Array.from({ length: 9 }, (_, i) => [i / 8]);
    const gp = GaussianProcess.fit(
      xs,
      xs.map(([x]) => f(x)),
    );
    let best = 0;
    let bestMean = Infinity;
    for (let i = 0; i <= 200; i++) {
      const m = gp.predict([i / 200]).mean;
      if (m < bestMean) [best, bestMean] = [i / 200, m];
    }
    expect(Math.abs(best - 0.62)).toBeLessThan(0.05);
  });

  it('survives duplicated inputs (Cholesky with jitter) and fits length scales by likelihood', () => {
    const xs = [[0.2, 0.5], [0.2, 0.5], [0.2, 0.5], [0.8, 0.5], [0.5, 0.1], [0.5, 0.9]];
    // y depends on the first input only: its length scale should come out shorter.
    const ys = xs.map(([a]) => Math.cos(5 * a));
    const gp = GaussianProcess.fit(xs, ys);
    expect(Number.isFinite(gp.logMarginalLikelihood)).toBe(true);
    const [r0, r1] = gp.relevance();
    expect(r0).toBeGreaterThan(r1);
  });
});

describe('heteroscedastic GP (per-point noise)', () => {
  // A smooth trend with one reading off it at x = 0.5; the same data fitted twice with the same
  // hyper-parameters, once with a small se at that reading and once with a large one.
  const xs = [[0], [0.2], [0.4], [0.5], [0.6], [0.8], [1]];
  const ys = xs.map(([x]) => x + (x === 0.5 ? 0.4 : 0));
  const hyper = { lengthscales: [0.15], signalVar: 1, noiseVar: 1e-4 };
  const fitWith = (se: number) =>
    GaussianProcess.fit(xs, ys, { init: hyper, fixed: true, pointNoise: xs.map(([x]) => (x === 0.5 ? se * se : 1e-4)) });

  it('fits a reading with a large standard error less tightly than one with a small se', () => {
    const tight = fitWith(0.01).predict([0.5]);
    const loose = fitWith(0.5).predict([0.5]);
    // the small-se fit follows the reading (0.9); the large-se one stays near the trend (0.5)
    expect(tight.mean).toBeGreaterThan(0.8);
    expect(Math.abs(loose.mean - 0.5)).toBeLessThan(Math.abs(tight.mean - 0.5));
    expect(loose.mean).toBeLessThan(0.75);
    expect(tight.variance).toBeLessThan(loose.variance);
  });

  it('without per-point noise it is the homoscedastic fit, and covariance(a, a) is the posterior variance', () => {
    const a = GaussianProcess.fit(xs, ys, { init: hyper, fixed: true });
    const b = GaussianProcess.fit(xs, ys, { init: hyper, fixed: true, pointNoise: xs.map(() => 0) });
    expect(a.predict([0.3]).mean).toBeCloseTo(b.predict([0.3]).mean, 10);
    expect(a.covariance([0.3], [0.3])).toBeCloseTo(a.predict([0.3]).variance, 8);
    // far apart points are nearly independent a posteriori
    expect(Math.abs(a.covariance([0.05], [0.95]))).toBeLessThan(a.predict([0.05]).variance);
  });

  it('standard errors carried to the transformed scale (delta method, bounded at a zero reading)', () => {
    expect(transformSe('log', 20, 0.8)).toBeCloseTo(0.04, 10);
    expect(transformSe('none', 1.05, 0.005)).toBe(0.005);
    // 50 errors in 10 000: se √(p(1−p)/n) ≈ 7e-4, logit se ≈ 1/√(n·p(1−p)) ≈ 0.14
    expect(transformSe('logit', 0.005, Math.sqrt((0.005 * 0.995) / 1e4))).toBeCloseTo(1 / Math.sqrt(1e4 * 0.005 * 0.995), 6);
    // 0 errors: derivative taken at the se, not at the 1e-5 clamp (that would give se 10)
    expect(transformSe('logit', 0, 1e-4)).toBeLessThan(1.01);
    expect(transformSe('log', 5, undefined)).toBeUndefined();
  });
});

describe('replication in the last trials', () => {
  it('re-measures the two best and ends on the truly better of two near-equal configs, where a lucky first reading had misled it', () => {
    const knobs = [{ name: 'k', type: 'int' as const, min: 0, max: 10, maxStep: 10, default: 5 }];
    const truth = (k: number) => (k === 3 ? 10 : k === 7 ? 10.4 : 14);
    const run = (replicateTrials: number) => {
      const opt = new RegimeOptimizer({ knobs, constraints: [], seed: 3, localDesign: false, budget: 9, replicateTrials });
      // first readings: 7 read lucky (−4 %), 3 read unlucky (+3 %)
      for (const [k, v] of [[5, 14], [0, 14.2], [10, 13.9], [3, 10.3], [7, 9.98]] as const) opt.tell({ config: { k }, objective: v, constraints: {} });
      const before = opt.best()!.config.k;
      const asked: number[] = [];
      for (let t = opt.observations.length; t < 9; t++) {
        const p = opt.ask(opt.best()!.config);
        asked.push(Number(p.config.k));
        // later readings scatter ±1 % around the truth
        opt.tell({ config: p.config, objective: truth(Number(p.config.k)) * (1 + 0.01 * ((t % 3) - 1)), constraints: {} });
      }
      return { before, after: opt.best()!.config.k, asked };
    };
    const r = run(4);
    // without replication the search moves on and the lucky reading keeps the incumbent
    expect(run(0).after).toBe(7);
    expect(r.before).toBe(7); // misled by the lucky reading
    expect(r.asked.every((k) => k === 3 || k === 7)).toBe(true);
    expect(new Set(r.asked).size).toBe(2);
    expect(r.after).toBe(3);
  });
});

describe('acquisition', () => {
  it('EI is ≥ 0, grows as the mean improves and as uncertainty grows', () => {
    const best = 1;
    for (const mean of [-2, 0, 1, 2, 5]) for (const sd of [0, 0.01, 0.5, 2]) expect(expectedImprovement(mean, sd, best)).toBeGreaterThanOrEqual(0);
    expect(expectedImprovement(0.5, 0.2, best)).toBeGreaterThan(expectedImprovement(0.9, 0.2, best));
    expect(expectedImprovement(1.5, 1, best)).toBeGreaterThan(expectedImprovement(1.5, 0.2, best));
  });

  it('log EI matches log(EI) where EI is representable and stays finite and ordered far in the tail', () => {
    for (const [m, s] of [
      [0.5, 0.3],
      [1.2, 0.5],
      [3, 0.4],
    ]) {
      expect(logExpectedImprovement(m, s, 1)).toBeCloseTo(Math.log(expectedImprovement(m, s, 1)), 4);
    }
    const far1 = logExpectedImprovement(40, 1, 1);
    const far2 = logExpectedImprovement(60, 1, 1);
    expect(Number.isFinite(far1) && Number.isFinite(far2)).toBe(true);
    expect(far1).toBeGreaterThan(far2);
    // continuity across the asymptotic branch at z = −20 (the slope there is ≈ 20 per unit z)
    expect(Math.abs(logH(-19.9999) - logH(-20.0001))).toBeLessThan(0.01);
  });

  it('knowledge gradient is ≥ 0, 0 when a reading cannot move any mean, and grows with how far it can', () => {
    expect(knowledgeGradient([1, 2, 3], [0, 0, 0])).toBeCloseTo(0, 10);
    const small = knowledgeGradient([1, 1.1], [0.05, 0.05]);
    const large = knowledgeGradient([1, 1.1], [0.05, 0.5]);
    expect(small).toBeGreaterThanOrEqual(0);
    expect(large).toBeGreaterThan(small);
    // one point: E[min(μ + σZ)] = μ, no gain
    expect(knowledgeGradient([2], [1])).toBeCloseTo(0, 6);
    // two independent points with equal means: E[min] = μ − σ_diff/√(2π) with σ_diff = √2·σ
    expect(knowledgeGradient([0, 0], [1, -1])).toBeCloseTo(2 / Math.sqrt(2 * Math.PI), 2);
  });

  it('probability of feasibility is monotone in the mean and a proper probability', () => {
    let prev = 1;
    for (let mean = -3; mean <= 3; mean += 0.25) {
      const p = probabilityOfFeasibility(mean, 0.7, 0);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(p).toBeLessThanOrEqual(prev + 1e-12);
      prev = p;
    }
    expect(probabilityOfFeasibility(0, 1, 0)).toBeCloseTo(0.5, 6);
    expect(normCdf(1.959964)).toBeCloseTo(0.975, 5);
  });
});
