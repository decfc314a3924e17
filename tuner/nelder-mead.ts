// A small Nelder–Mead minimiser (standard coefficients) for the GP hyper-parameters and the
// acquisition polish: derivative-free, a few dozen lines, no ESM-only dependency.

export interface NelderMeadOptions {
  maxEvaluations?: number;
  /** Initial simplex edge, per coordinate or for all. */
  step?: number | number[];
  /** Stop when the simplex's f spread falls below this. */
  tolerance?: number;
}

export function nelderMead(f: (x: number[]) => number, x0: number[], opts: NelderMeadOptions = {}): { x: number[]; fx: number; evaluations: number } {
  const n = x0.length;
  const maxEval = opts.maxEvaluations ?? 200 * n;
  const tol = opts.tolerance ?? 1e-6;
  let evaluations = 0;
  const fe = (x: number[]): number => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  const simplex: Array<{ x: number[]; fx: number }> = [{ x: x0.slice(), fx: fe(x0) }];
  for (let i = 0; i < n; i++) {
    const x = x0.slice();
    x[i] += Array.isArray(opts.step) ? opts.step[i] : (opts.step ?? 0.5);
    simplex.push({ x, fx: fe(x) });
  }
  const combine = (a: number[], b: number[], t: number): number[] => a.map((ai, i) => ai + t * (b[i] - ai));
  while (evaluations < maxEval) {
    simplex.sort((p, q) => p.fx - q.fx);
    const best = simplex[0];
    const worst = simplex[n];
    if (Math.abs(worst.fx - best.fx) <= tol * (1 + Math.abs(best.fx))) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j] += simplex[i].x[j] / n;
    const reflected = combine(centroid, worst.x, -1);
    const fr = fe(reflected);
    if (fr < best.fx) {
      const expanded = combine(centroid, worst.x, -2);
      const fxe = fe(expanded);
      simplex[n] = fxe < fr ? { x: expanded, fx: fxe } : { x: reflected, fx: fr };
      continue;
    }
    if (fr < simplex[n - 1].fx) {
      simplex[n] = { x: reflected, fx: fr };
      continue;
    }
    const outside = fr < worst.fx;
    const contracted = outside ? combine(centroid, reflected, 0.5) : combine(centroid, worst.x, 0.5);
    const fc = fe(contracted);
    if (fc < (outside ? fr : worst.fx)) {
      simplex[n] = { x: contracted, fx: fc };
      continue;
    }
    for (let i = 1; i <= n; i++) {
      const x = combine(best.x, simplex[i].x, 0.5);
      simplex[i] = { x, fx: fe(x) };
    }
  }
  simplex.sort((p, q) => p.fx - q.fx);
  return { x: simplex[0].x, fx: simplex[0].fx, evaluations };
}
