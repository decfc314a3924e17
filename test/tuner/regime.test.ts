import { RegimeOptimizer } from '../../tuner/optimizer';
import { bucketOf, RegimeDetector, regimeDistance } from '../../tuner/regime';
import type { KnobSpec } from '../../tuner/space';

const opts = { bucketsPerDecade: 4, hysteresis: 0.25, minDwellMs: 60_000, mixBy: 'none' as const };

describe('load regimes', () => {
  it('buckets request rates on a log scale', () => {
    expect(bucketOf(100, 4)).toBe(8);
    expect(bucketOf(1000, 4)).toBe(12);
    expect(bucketOf(177, 4)).toBe(8); // 10^(9/4) ≈ 177.8 is the next edge
    expect(bucketOf(178, 4)).toBe(9);
  });

  it('does not flip on a rate oscillating around a bucket edge (hysteresis)', () => {
    const d = new RegimeDetector(opts);
    const first = d.update(170, {}, 0).regime.key;
    let changes = 0;
    for (let i = 1; i <= 50; i++) if (d.update(i % 2 ? 185 : 170, {}, i * 120_000).changed) changes++;
    expect(changes).toBe(0);
    expect(d.regime?.key).toBe(first);
    // a real move (well past the margin) does switch
    expect(d.update(400, {}, 100 * 120_000).changed).toBe(true);
  });

  it('waits for the minimum dwell before switching', () => {
    const d = new RegimeDetector(opts);
    d.update(100, {}, 0);
    expect(d.update(1000, {}, 30_000).changed).toBe(false);
    expect(d.update(1000, {}, 61_000).changed).toBe(true);
    expect(d.regime?.ratePerS).toBeGreaterThan(900);
  });

  it('keys regimes by the dominant operation when asked, and mix differences count in the distance', () => {
    const d = new RegimeDetector({ ...opts, mixBy: 'operation', minDwellMs: 0 });
    const a = d.update(100, { search: 0.8, browse: 0.2 }, 0).regime;
    const b = d.update(100, { search: 0.2, browse: 0.8 }, 1).regime;
    expect(a.key).not.toBe(b.key);
    expect(regimeDistance(a, b)).toBe(2);
  });
});

describe('transfer between regimes', () => {
  it('tries the best configs of similar regimes right after the baseline', () => {
    const knobs: KnobSpec[] = [{ name: 'threads', type: 'int', min: 1, max: 32, maxStep: 4, default: 8 }];
    const opt = new RegimeOptimizer({ knobs, constraints: [], warmStart: [{ threads: 11 }] });
    expect(opt.ask({ threads: 8 }).reason).toBe('baseline');
    opt.tell({ config: { threads: 8 }, objective: 10, constraints: {} });
    const p = opt.ask({ threads: 8 });
    expect(p.reason).toBe('warm-start');
    expect(p.config).toEqual({ threads: 11 });
  });
});
