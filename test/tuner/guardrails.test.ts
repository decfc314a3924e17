// The statistical canary, staged rollout, the analytic utilisation pre-check and the
// first-change approval in auto mode, against real admin HTTP servers and the real store.
import { MemoryAuditSink } from '../../tuner/audit';
import { parseTunerConfig, type TunerConfigInput } from '../../tuner/config';
import { createRng } from '../../tuner/random';
import { compareCanary, mannWhitneyGreater, twoProportionGreater } from '../../tuner/stats';
import { adminFleet, startAdmin, VirtualWorld, startTuner } from './harness';

const WINDOW = 10_000;

function sample(n: number, seed: number, f: (u: number) => number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => f(rng.next()));
}
// log-normal-ish latencies around 20 ms
const lat = (scale: number) => (u: number) => scale * 20 * Math.exp(0.3 * Math.sqrt(-2 * Math.log(Math.max(1e-12, u))) * Math.cos(6.283 * u * 7.1));

describe('canary statistics', () => {
  it('Mann–Whitney U: no shift is not significant, a 30 % shift is, ties handled', () => {
    const a = sample(2000, 1, lat(1));
    const b = sample(2000, 2, lat(1));
    expect(mannWhitneyGreater(a, b).p).toBeGreaterThan(0.01);
    const slow = sample(2000, 3, lat(1.3));
    const r = mannWhitneyGreater(slow, b);
    expect(r.p).toBeLessThan(1e-6);
    expect(r.auc).toBeGreaterThan(0.6);
    const tied = mannWhitneyGreater([1, 1, 1, 2], [1, 1, 1, 2]);
    expect(tied.auc).toBeCloseTo(0.5, 6);
    expect(tied.p).toBeGreaterThan(0.3);
  });

  it('two-proportion test: 3 % vs 1 % over 5000 each is significant, 1.1 % vs 1 % is not', () => {
    expect(twoProportionGreater(150, 5000, 50, 5000).p).toBeLessThan(1e-6);
    expect(twoProportionGreater(55, 5000, 50, 5000).p).toBeGreaterThan(0.1);
  });

  it('tolerance is a margin: 10 % slower passes at δ = 0.2, 50 % slower fails; a tail-only regression fails the tail test', () => {
    const base = sample(3000, 4, lat(1));
    const opts = { tolerance: 0.2, errorRateDelta: 0.005, alpha: 0.05 };
    expect(compareCanary({ latenciesMs: sample(3000, 5, lat(1.1)), errors: 0 }, { latenciesMs: base, errors: 0 }, opts).failed).toEqual([]);
    const bad = compareCanary({ latenciesMs: sample(3000, 6, lat(1.5)), errors: 0 }, { latenciesMs: base, errors: 0 }, opts);
    expect(bad.failed.join(' ')).toMatch(/Mann–Whitney/);
    // 4 % of requests hit a 10× slow path: the bulk is unchanged, the tail is not
    const tail = sample(3000, 7, (u) => (u < 0.04 ? 10 : 1) * lat(1)(((u * 9301) % 1) || 0.5));
    const t = compareCanary({ latenciesMs: tail, errors: 0 }, { latenciesMs: base, errors: 0 }, opts);
    expect(t.latency.p).toBeGreaterThan(0.05);
    expect(t.failed.join(' ')).toMatch(/p99 .* > baseline .*tail/);
    // errors: +2 % over 3000 requests is beyond δ = 0.5 % and significant
    const e = compareCanary({ latenciesMs: base, errors: 75 }, { latenciesMs: base, errors: 10 }, opts);
    expect(e.failed.join(' ')).toMatch(/error rate/);
  });
});

describe('guarded rollout on real admin endpoints', () => {
  const admins = adminFleet();

  async function setup(n: number, latency: VirtualWorld['latency'], over: Partial<TunerConfigInput> = {}, guardrails: Record<string, unknown> = {}) {
    for (let i = 0; i < n; i++) admins.push(await startAdmin(`i${i}`, { threads: 4, maxBatch: 8 }));
    const world = new VirtualWorld('model', admins, latency);
    const audit = new MemoryAuditSink();
    const config = parseTunerConfig({
      service: 'model',
      mode: 'approve',
      knobs: [
        { name: 'threads', type: 'int', min: 1, max: 16, maxStep: 4, default: 4 },
        { name: 'maxBatch', type: 'int', min: 1, max: 128, log: true, maxStep: 2, default: 8 },
      ],
      applier: { kind: 'http', targets: admins.map((t) => ({ instance: t.instance, url: t.url })) },
      objective: { metric: 'p99Ms', costTerms: [], constraints: [{ metric: 'errorRate', max: 0.05 }] },
      regimes: { bucketsPerDecade: 4, hysteresis: 0.25, minDwellMs: 0, mixBy: 'none' },
      evaluation: { windowMs: WINDOW, minRequests: 50, settleMs: 0 },
      guardrails: { p99Tolerance: 0.2, errorRateDelta: 0.02, queueGrowthRatio: 1.5, approvedRanges: {}, minIntervalMs: 0, ...guardrails },
      ...over,
    });
    const tuner = await startTuner(world, config, audit);
    return { world, audit, tuner };
  }

  it('the canary verdict is statistical: same latency is kept, a 40 % bulk shift is rolled back by Mann–Whitney', async () => {
    const { tuner } = await setup(2, (k) => (Number(k.threads) === 6 ? 28 : 20));
    const same = await tuner.apply({ threads: 5 }, 'ann');
    expect(same.verdict).toBe('kept');
    const stats = same.record.stages![0].stats as { mannWhitney: { p: number; n: number[] } };
    expect(stats.mannWhitney.n[0]).toBeGreaterThanOrEqual(50);
    expect(stats.mannWhitney.p).toBeGreaterThan(0.05);
    const worse = await tuner.apply({ threads: 6 }, 'ann');
    expect(worse.verdict).toBe('rolled-back');
    expect(worse.record.checks!.join(' ')).toMatch(/Mann–Whitney U one-sided p = /);
    expect(admins.map((a) => a.knobs.threads)).toEqual([5, 5]);
    expect(admins[1].puts.map((p) => p.threads)).toEqual([5]); // the regression never left the canary
  });

  it('staged rollout: canary, then half, then all, each only after the previous stage passed', async () => {
    // the new config is slow only on instance i1: caught at the second stage, i2/i3 never touched
    const { tuner } = await setup(4, (k, _t, inst) => (inst === 'i1' && Number(k.maxBatch) === 16 ? 60 : 20), {}, { stages: [0.5, 1] });
    const good = await tuner.apply({ threads: 5 }, 'bo');
    expect(good.verdict).toBe('kept');
    expect(good.record.stages!.map((s) => s.instances)).toEqual([['i0'], ['i0', 'i1'], ['i0', 'i1', 'i2', 'i3']]);
    expect(good.record.stages!.map((s) => s.baseline)).toEqual([['i1', 'i2', 'i3'], ['i2', 'i3'], 'before']);
    const bad = await tuner.apply({ maxBatch: 16 }, 'bo');
    expect(bad.verdict).toBe('rolled-back');
    expect(bad.record.stages!.map((s) => s.instances)).toEqual([['i0'], ['i0', 'i1']]);
    expect(admins.map((a) => a.knobs.maxBatch)).toEqual([8, 8, 8, 8]);
    expect(admins[2].puts.some((p) => p.maxBatch === 16)).toBe(false);
    expect(admins[3].puts.some((p) => p.maxBatch === 16)).toBe(false);
  });

  it('utilisation pre-check: a config predicted at ρ ≥ limit is refused before it reaches the service, and never suggested', async () => {
    // 50 req/s per instance; s = 80 ms / batch + 1 ms per item; c = threads
    const pre = { max: 0.85, batchKnob: 'maxBatch', perBatchMs: 80, perItemMs: 1, concurrencyKnob: 'threads' };
    const { tuner, world, audit } = await setup(1, (k) => 10 + 30 / Number(k.threads) + Number(k.maxBatch), {}, { utilisationPrecheck: pre });
    const putsBefore = admins[0].puts.length;
    // threads 1, maxBatch 8: ρ = 0.05 × (10 + 1) / 1 = 0.55 → allowed; threads 1, maxBatch 4 (2 step-limited to 4): 0.05 × 21 = 1.05 → refused
    expect(tuner.precheck({ threads: 1, maxBatch: 8 }, 50)!.rho).toBeCloseTo(0.55, 6);
    const out = await tuner.apply({ threads: 1, maxBatch: 2 }, 'cy');
    expect(out.verdict).toBe('refused');
    expect(out.reason).toMatch(/utilisation pre-check: predicted ρ = 1\.05/);
    expect(out.record.precheck).toMatchObject({ rho: 1.05, max: 0.85 });
    expect(admins[0].puts.length).toBe(putsBefore);
    for (let i = 0; i < 6; i++) {
      await world.sleep(WINDOW);
      await tuner.tick();
      for (const s of tuner.listSuggestions('open')) {
        expect(tuner.precheck(s.config, 50)!.rho).toBeLessThan(0.85);
        await tuner.approve(s.id, 'cy');
      }
    }
    for (const p of admins[0].puts) expect(tuner.precheck({ threads: 4, maxBatch: 8, ...p }, 50)!.rho).toBeLessThan(0.85);
    expect(audit.list({ kind: 'suggestion' }).length).toBeGreaterThan(0);
  });

  it('auto mode: the first change of a regime waits for a human; after that approval it acts alone; a new regime asks again', async () => {
    const { tuner, world, audit } = await setup(1, (k) => 10 + Math.abs(Number(k.threads) - 9) * 4, {
      mode: 'auto',
      guardrails: { approvedRanges: { threads: { min: 2, max: 12 } }, minIntervalMs: 0, p99Tolerance: 0.5 },
    });
    for (let i = 0; i < 3; i++) {
      await world.sleep(WINDOW);
      await tuner.tick();
    }
    expect(admins[0].puts).toHaveLength(0);
    const open = tuner.listSuggestions('open');
    expect(open).toHaveLength(1);
    expect(open[0].reasons.join(' ')).toMatch(/first change in regime .* needs a human approval even in auto mode/);
    // an auto trial cannot sneak past it either
    const sneaky = await tuner.runTrial(open[0].config, { reason: 'test', actor: 'auto' });
    expect(sneaky.verdict).toBe('refused');
    expect(sneaky.reason).toMatch(/first change .* needs a human approval/);
    expect((await tuner.approve(open[0].id, 'oncall')).verdict).toBe('kept');
    let autoTrials = 0;
    for (let i = 0; i < 4; i++) {
      await world.sleep(WINDOW);
      const step = await tuner.tick();
      if (step.trial) {
        autoTrials++;
        expect(step.trial.record.actor).toBe('auto');
      }
    }
    expect(autoTrials).toBeGreaterThan(0);
    // load ×10: a new regime, whose first change again needs a human
    world.ratePerS = 500;
    const putsBefore = admins[0].puts.length;
    for (let i = 0; i < 3; i++) {
      await world.sleep(WINDOW);
      await tuner.tick();
    }
    expect(admins[0].puts.length).toBe(putsBefore);
    expect(tuner.listSuggestions('open')[0]?.reasons.join(' ')).toMatch(/first change in regime/);
    expect(audit.list({ kind: 'trial' }).length).toBeGreaterThan(1);
  });

  it('auto mode: a human-approved change that the guardrails rolled back still unlocks the regime', async () => {
    const { tuner, world } = await setup(1, (k) => (Number(k.threads) >= 8 ? 80 : 10 + Math.abs(Number(k.threads) - 6) * 4), {
      mode: 'auto',
      guardrails: { approvedRanges: { threads: { min: 2, max: 7 } }, minIntervalMs: 0, p99Tolerance: 0.5 },
    });
    const bad = await tuner.apply({ threads: 8 }, 'oncall');
    expect(bad.verdict).toBe('rolled-back');
    let auto = 0;
    for (let i = 0; i < 4; i++) {
      await world.sleep(WINDOW);
      if ((await tuner.tick()).trial?.record.actor === 'auto') auto++;
    }
    expect(auto).toBeGreaterThan(0);
  });
});

describe('canary on instances that are not alike', () => {
  const admins = adminFleet();

  it('the canary host is 50 % slower anyway: a neutral change is kept, a real 50 % regression still rolls back (offset from the window before)', async () => {
    for (let i = 0; i < 2; i++) admins.push(await startAdmin(`i${i}`, { threads: 4, maxBatch: 8 }));
    const world = new VirtualWorld('model', admins, (k, _t, inst) => (inst === 'i0' ? 30 : 20) * (Number(k.threads) === 6 ? 1.5 : 1));
    const config = parseTunerConfig({
      service: 'model',
      mode: 'approve',
      knobs: [{ name: 'threads', type: 'int', min: 1, max: 16, maxStep: 4, default: 4 }],
      applier: { kind: 'http', targets: admins.map((t) => ({ instance: t.instance, url: t.url })) },
      regimes: { minDwellMs: 0 },
      evaluation: { windowMs: WINDOW, minRequests: 50, settleMs: 0 },
      guardrails: { minIntervalMs: 0 },
    });
    const tuner = await startTuner(world, config);
    const neutral = await tuner.apply({ threads: 5 }, 'dee');
    expect(neutral.verdict).toBe('kept');
    expect((neutral.record.stages![0].stats as { preChangeOffset: number }).preChangeOffset).toBeGreaterThan(1.3);
    const bad = await tuner.apply({ threads: 6 }, 'dee');
    expect(bad.verdict).toBe('rolled-back');
    expect(admins.map((a) => a.knobs.threads)).toEqual([5, 5]);
  });
});

describe('queue growth against a concurrent baseline', () => {
  const admins = adminFleet();

  it('a slowdown of the whole machine in the second half of the window is not blamed on the canary; the canary alone growing is', async () => {
    for (let i = 0; i < 2; i++) admins.push(await startAdmin(`i${i}`, { threads: 4, maxBatch: 8 }));
    // every instance slows down in the second half of each window (a noisy neighbour) …
    // … and threads = 6 makes the canary's own queue grow on top of it
    const world = new VirtualWorld('model', admins, (k, t) => (t > WINDOW / 2 ? 40 : 20) * (Number(k.threads) === 6 ? 1 + t / 2000 : 1));
    const config = parseTunerConfig({
      service: 'model',
      mode: 'approve',
      knobs: [{ name: 'threads', type: 'int', min: 1, max: 16, maxStep: 4, default: 4 }],
      applier: { kind: 'http', targets: admins.map((t) => ({ instance: t.instance, url: t.url })) },
      regimes: { minDwellMs: 0 },
      evaluation: { windowMs: WINDOW, minRequests: 50, settleMs: 0 },
      guardrails: { minIntervalMs: 0, p99Tolerance: 2 },
    });
    const tuner = await startTuner(world, config);
    const neutral = await tuner.apply({ threads: 5 }, 'eve');
    expect(neutral.reason).not.toMatch(/queue growing/);
    expect(neutral.record.stages![0].failed).toEqual([]);
    const growing = await tuner.apply({ threads: 6 }, 'eve');
    expect(growing.verdict).toBe('rolled-back');
    expect(growing.record.checks!.join(' ')).toMatch(/queue growing/);
  });
});
