// Knobs whose effect shows late (a TTL: entries written under the old value live on) are
// judged only after they have settled, on real admin endpoints and the real store.
import { MemoryAuditSink } from '../../tuner/audit';
import { parseTunerConfig, TunerConfigError } from '../../tuner/config';
import { settleAfterChange } from '../../tuner/settle';
import { adminFleet, startAdmin, startTuner, VirtualWorld } from './harness';

const WINDOW = 10_000;

describe('settleAfterChange', () => {
  const knobs = [
    { name: 'cacheSize', settleMs: 20_000 },
    { name: 'ttlS', ttlUnitMs: 1000, maxSettleMs: 120_000 },
    { name: 'threads' },
  ];
  it('waits the longest of the base settle and each changed knob own settle', () => {
    expect(settleAfterChange(knobs, { cacheSize: 1, ttlS: 60, threads: 4 }, { cacheSize: 1, ttlS: 60, threads: 8 }, 5000)).toBe(5000);
    expect(settleAfterChange(knobs, { cacheSize: 1, ttlS: 60 }, { cacheSize: 2, ttlS: 60 }, 5000)).toBe(20_000);
    // a TTL: the longer of the old and the new value, whichever way it moved
    expect(settleAfterChange(knobs, { cacheSize: 1, ttlS: 60 }, { cacheSize: 1, ttlS: 10 }, 5000)).toBe(60_000);
    expect(settleAfterChange(knobs, { cacheSize: 1, ttlS: 10 }, { cacheSize: 2, ttlS: 90 }, 5000)).toBe(90_000);
    // capped
    expect(settleAfterChange(knobs, { ttlS: 3600 }, { ttlS: 600 }, 5000)).toBe(120_000);
  });

  it('config: settle fields are checked and named in the error', () => {
    const base = {
      service: 's',
      knobs: [{ name: 'ttl', type: 'int', min: 1, max: 10, default: 5, ttlUnitMs: -1 }],
      applier: { kind: 'http', targets: [{ instance: 'a', url: 'http://127.0.0.1:1' }] },
    };
    expect(() => parseTunerConfig(base)).toThrow(TunerConfigError);
    expect(() => parseTunerConfig(base)).toThrow(/tuner\.knobs\.0\.ttlUnitMs/);
  });
});

describe('a TTL change on real admin endpoints', () => {
  const admins = adminFleet();

  it('a shorter TTL is judged after the old entries have expired: its regression is rolled back, not kept on their hits', async () => {
    for (let i = 0; i < 2; i++) admins.push(await startAdmin(`i${i}`, { cacheTtlMs: 300_000 }));
    // The cache: hits while the TTL in effect is ≥ 60 s. After a change, entries written under
    // the old TTL keep answering for the longer of the two (as the demo's LRU does).
    const seen = new Map<string, { ttl: number; prev: number; at: number }>();
    const world: VirtualWorld = new VirtualWorld('cache', admins, (k, dt, inst) => {
      const t = world.now + dt;
      const ttl = Number(k.cacheTtlMs);
      let s = seen.get(inst);
      if (!s) seen.set(inst, (s = { ttl, prev: ttl, at: Number.NEGATIVE_INFINITY }));
      if (s.ttl !== ttl) Object.assign(s, { prev: s.ttl, ttl, at: t });
      const effective = t - s.at < Math.max(s.prev, s.ttl) ? s.prev : s.ttl;
      return effective >= 60_000 ? 10 : 30;
    });
    const config = parseTunerConfig({
      service: 'cache',
      mode: 'auto',
      knobs: [{ name: 'cacheTtlMs', type: 'int', min: 1000, max: 3_600_000, log: true, maxStep: 100, default: 300_000, ttlUnitMs: 1 }],
      applier: { kind: 'http', targets: admins.map((t) => ({ instance: t.instance, url: t.url })) },
      objective: { metric: 'p99Ms', costTerms: [], constraints: [{ metric: 'errorRate', max: 0.05 }] },
      regimes: { bucketsPerDecade: 4, hysteresis: 0.25, minDwellMs: 0, mixBy: 'none' },
      evaluation: { windowMs: WINDOW, minRequests: 50, settleMs: 0 },
      guardrails: { p99Tolerance: 0.2, errorRateDelta: 0.02, approvedRanges: { cacheTtlMs: {} }, minIntervalMs: 0 },
    });
    const tuner = await startTuner(world, config, new MemoryAuditSink());
    const out = await tuner.apply({ cacheTtlMs: 10_000 }, 'ann');
    expect(out.record.settleMs).toBe(300_000);
    expect(out.verdict).toBe('rolled-back');
    expect(out.record.after!.p99Ms).toBeGreaterThan(25);
    expect(admins.map((a) => a.knobs.cacheTtlMs)).toEqual([300_000, 300_000]);
    // The revert is a change too: no trial starts on a baseline window it has not settled in.
    await world.sleep(WINDOW);
    // (auto mode: the human's trial unlocked the regime, and the tick has a suggestion ready)
    const putsBefore = admins[0].puts.length;
    const held = await tuner.tick();
    expect(held.note).toMatch(/the last change settles until/);
    expect(held.trial).toBeUndefined();
    expect(admins[0].puts.length).toBe(putsBefore);
    await world.sleep(300_000);
    const next = await tuner.tick();
    expect(next.note ?? '').not.toMatch(/settles/);
    expect(next.trial).toBeDefined();
  });
});
