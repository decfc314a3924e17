import { RegimeOptimizer, type Observation } from '../../tuner/optimizer';
import type { Config, KnobSpec } from '../../tuner/space';

const knobs: KnobSpec[] = ['a', 'b', 'c'].map((name) => ({ name, type: 'int' as const, min: 10, max: 90, maxStep: 10, default: 50 }));
const baseline: Config = { a: 50, b: 50, c: 50 };
const changedKnobs = (c: Config, from: Config) => knobs.filter((k) => c[k.name] !== from[k.name]).map((k) => k.name);

/** Runs the baseline and the local design as the service does: each proposal from the incumbent in effect. */
function runDesign(readingOf: (c: Config) => number): Config[] {
  const opt = new RegimeOptimizer({ knobs, constraints: [], seed: 1 });
  let current = { ...baseline };
  const design: Config[] = [];
  for (let t = 0; t < 7; t++) {
    const p = opt.ask(current);
    if (p.reason === 'local-design') design.push(p.config);
    opt.tell({ config: p.config, objective: readingOf(p.config), constraints: {} });
    current = opt.best()!.config;
  }
  return design;
}

describe('local design', () => {
  it('steps every knob from the config it started at when a step reads better only by noise', () => {
    // a's step down reads 3 % better: inside the noise, the incumbent may still switch to it
    const design = runDesign((c) => (c.a === 40 && c.b === 50 && c.c === 50 ? 97 : 100));
    // (a's step up is two steps from an incumbent at a = 40: beyond the step limit, skipped)
    expect(design.length).toBeGreaterThanOrEqual(5);
    for (const c of design) expect(changedKnobs(c, baseline)).toHaveLength(1);
  });

  it('walks to a design point that beat the start beyond the noise (a far-off optimum is still approached)', () => {
    const design = runDesign((c) => (c.a === 40 ? 80 : 100));
    const after = design.slice(design.findIndex((c) => c.a === 40) + 1);
    expect(after.length).toBeGreaterThan(0);
    for (const c of after) {
      if (c.a === 40) expect(changedKnobs(c, { ...baseline, a: 40 })).toHaveLength(1);
      else expect(changedKnobs(c, baseline)).toEqual(['a']); // a's other step, from the start
    }
    expect(after.some((c) => c.a === 40 && c.b !== 50)).toBe(true);
  });
});

describe('constraint floor', () => {
  it('readings far below a logit constraint’s limit (0 or 1 error in a window) do not widen its posterior at the limit', () => {
    const one: KnobSpec[] = [{ name: 'x', type: 'int', min: 0, max: 100, maxStep: 100, default: 100 }];
    const obs: Observation[] = [];
    const near: Record<number, number> = { 0: 0.014, 10: 0.011, 20: 0.008, 30: 0.0055, 40: 0.003 };
    for (let x = 0; x <= 100; x += 10) {
      const errorRate = near[x] ?? (x % 20 === 0 ? 0 : 1e-4);
      obs.push({ config: { x }, objective: 20 + x / 10, constraints: { errorRate } });
    }
    const sdAt = (constraintFloor: number, x: number) => {
      const opt = new RegimeOptimizer({ knobs: one, constraints: [{ name: 'errorRate', max: 0.01, transform: 'logit' }], seed: 1, constraintFloor });
      for (const o of obs) opt.tell(o);
      return opt.predict({ x })!.constraints.errorRate.sd;
    };
    // 1/30 is the default; 0 is the model without the floor
    expect(sdAt(1 / 30, 15)).toBeLessThan(0.5 * sdAt(0, 15));
    expect(sdAt(1 / 30, 25)).toBeLessThan(0.5 * sdAt(0, 25));
  });
});
