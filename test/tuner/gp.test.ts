import { expectedImprovement, logExpectedImprovement, probabilityOfFeasibility } from '../../tuner/acquisition';
import { GaussianProcess } from '../../tuner/gp';
import { logH, normCdf } from '../../tuner/normal';

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
