// The demo's small building blocks: knob validation, fault requests, the LRU cache, Zipf.
import { Knobs, KnobError } from '../../demo/lib/knobs';
import { parseFaultRequest, FaultError, FaultController } from '../../demo/lib/faults';
import { LruCache } from '../../demo/lib/lru';
import { mulberry32, zipfSampler } from '../../demo/lib/random';

const specs = {
  batchSize: { min: 1, max: 256, default: 8, integer: true, help: '' },
  batchTimeoutMs: { min: 0, max: 1000, default: 4, help: '', bad: 250 },
};

test('knobs validate every entry before applying any, and count generations', () => {
  const k = new Knobs(specs);
  expect(k.generation).toBe(0);
  expect(() => k.set({ batchSize: 16, batchTimeoutMs: 5000 })).toThrow(/out of bounds \[0, 1000\]/);
  expect(k.get('batchSize')).toBe(8); // nothing half-applied
  expect(() => k.set({ batchSize: 1.5 })).toThrow(/integer/);
  expect(() => k.set({ batchSize: '2' })).toThrow(/finite number/);
  expect(() => k.set({ other: 1 })).toThrow(KnobError);
  expect(() => k.set([1])).toThrow(/JSON object/);
  k.set({ batchSize: 16, batchTimeoutMs: 2 });
  expect(k.all()).toEqual({ batchSize: 16, batchTimeoutMs: 2 });
  expect(k.generation).toBe(1);
});

test('fault requests: defaults, bounds, and config picks the bad value of a knob', () => {
  const k = new Knobs(specs);
  expect(parseFaultRequest({ kind: 'cpu' }, k)).toMatchObject({ kind: 'cpu', intensity: 0.8 });
  expect(parseFaultRequest({ kind: 'config' }, k)).toMatchObject({ target: 'batchTimeoutMs', intensity: 250 });
  expect(parseFaultRequest({ kind: 'config', target: 'batchSize', intensity: 1 }, k)).toMatchObject({ target: 'batchSize', intensity: 1 });
  expect(() => parseFaultRequest({ kind: 'config', target: 'batchSize', intensity: 0 }, k)).toThrow(/out of bounds/);
  expect(() => parseFaultRequest({ kind: 'config', target: 'nope' }, k)).toThrow(/knob/);
  expect(() => parseFaultRequest({ kind: 'loss', intensity: 2 }, k)).toThrow(FaultError);
  expect(() => parseFaultRequest({ kind: 'delay', durationSec: 0 }, k)).toThrow(/durationSec/);
  expect(() => parseFaultRequest({ kind: 'disk' }, k)).toThrow(/kind must be one of/);
});

test('a config fault sets the knob and restores it when cleared', () => {
  const k = new Knobs(specs);
  const f = new FaultController(k, mulberry32(1));
  f.start({ kind: 'config' });
  expect(k.get('batchTimeoutMs')).toBe(250);
  f.clear();
  expect(k.get('batchTimeoutMs')).toBe(4);
  expect(k.generation).toBe(2);
  expect(f.list()).toEqual([]);
});

test('LRU cache evicts the least recently used and expires by TTL', () => {
  const c = new LruCache<number>(2, 1000);
  c.set('a', 1, 0);
  c.set('b', 2, 0);
  expect(c.get('a', 10)).toBe(1); // a is now most recent
  c.set('c', 3, 10);
  expect(c.get('b', 10)).toBeUndefined();
  expect(c.get('a', 10)).toBe(1);
  expect(c.get('a', 2000)).toBeUndefined(); // expired
  c.setTtl(0);
  c.set('d', 4, 0);
  expect(c.get('d', 0)).toBeUndefined(); // TTL 0 caches nothing
});

test('Zipf sampling is skewed toward low ranks and reproducible with a seed', () => {
  const draw = (seed: number) => {
    const z = zipfSampler(1000, 1.1, mulberry32(seed));
    return Array.from({ length: 5000 }, () => z());
  };
  const xs = draw(7);
  expect(draw(7)).toEqual(xs);
  const top10 = xs.filter((x) => x <= 10).length / xs.length;
  expect(top10).toBeGreaterThan(0.3); // ~40 % for s = 1.1, n = 1000
  expect(Math.min(...xs)).toBe(1);
  expect(Math.max(...xs)).toBeLessThanOrEqual(1000);
});
