import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonlAuditSink, MemoryAuditSink } from '../../tuner/audit';
import { parseTunerConfig, type TunerConfigInput } from '../../tuner/config';
import type { TunerService } from '../../tuner/service';
import { adminFleet, startAdmin, VirtualWorld, type AdminInstance, type AdminRules, startTuner } from './harness';

const WINDOW = 10_000;

function tunerConfig(targets: AdminInstance[], over: Partial<TunerConfigInput> = {}) {
  return parseTunerConfig({
    service: 'model',
    mode: 'approve',
    knobs: [
      { name: 'threads', type: 'int', min: 1, max: 16, maxStep: 4, default: 4 },
      { name: 'maxBatch', type: 'int', min: 1, max: 128, log: true, maxStep: 2, default: 8 },
    ],
    applier: { kind: 'http', targets: targets.map((t) => ({ instance: t.instance, url: t.url })) },
    objective: { metric: 'p99Ms', costTerms: [], constraints: [{ metric: 'errorRate', max: 0.05 }] },
    regimes: { bucketsPerDecade: 4, hysteresis: 0.25, minDwellMs: 0, mixBy: 'none' },
    evaluation: { windowMs: WINDOW, minRequests: 50, settleMs: 0 },
    guardrails: { p99Tolerance: 0.2, errorRateDelta: 0.02, queueGrowthRatio: 1.5, approvedRanges: {}, minIntervalMs: 0 },
    ...over,
  });
}

/** Auto mode: the open suggestion of the regime's first change is approved by a human. */
async function approveFirst(tuner: TunerService, world: VirtualWorld): Promise<void> {
  let open = tuner.listSuggestions('open');
  for (let i = 0; open.length === 0 && i < 3; i++) {
    await world.sleep(WINDOW);
    await tuner.tick();
    open = tuner.listSuggestions('open');
  }
  expect(open).toHaveLength(1);
  expect(open[0].reasons.join(' ')).toMatch(/first change in regime .* needs a human approval/);
  const out = await tuner.approve(open[0].id, 'oncall');
  expect(out.record.actor).toBe('oncall');
}

describe('TunerService against real admin endpoints', () => {
  const admins = adminFleet();

  async function setup(n: number, rules: AdminRules, latency: VirtualWorld['latency'], over: Partial<TunerConfigInput> = {}) {
    for (let i = 0; i < n; i++) admins.push(await startAdmin(`i${i}`, { threads: 4, maxBatch: 8 }, rules));
    const world = new VirtualWorld('model', admins, latency);
    const audit = new MemoryAuditSink();
    const config = tunerConfig(admins, over);
    const tuner = await startTuner(world, config, audit);
    return { world, audit, tuner };
  }

  it('records the value actually in effect when the service clamps (HTTP applier read-back)', async () => {
    const { tuner, audit } = await setup(1, { clampMax: { threads: 6 } }, () => 20);
    const out = await tuner.apply({ threads: 8 }, 'alice', 'test clamp');
    expect(out.verdict).toBe('kept');
    const rec = audit.list({ kind: 'trial' }).at(-1)!;
    expect(rec.requested?.threads).toBe(8);
    expect(rec.applied?.i0.threads).toBe(6);
    expect(admins[0].knobs.threads).toBe(6);
    expect(rec.actor).toBe('alice');
    expect(rec.before?.requests).toBeGreaterThan(0);
    expect(rec.after?.requests).toBeGreaterThan(0);
  });

  it('extends the evaluation window when the canary saw too few requests, instead of judging on noise', async () => {
    const { tuner, world } = await setup(1, {}, () => 20, { evaluation: { windowMs: WINDOW, minRequests: 900, settleMs: 0 } });
    const t0 = world.now;
    const out = await tuner.apply({ threads: 5 }, 'ivy');
    // 50 req/s × 10 s = 500 < 900: the window grew to ≥ 18 s instead of an "inconclusive" rollback
    expect(out.verdict).toBe('kept');
    expect(out.record.after!.requests).toBeGreaterThanOrEqual(900);
    expect(world.now - t0).toBeGreaterThanOrEqual(18_000);
  });

  it('step limits the request before it reaches the service', async () => {
    const { tuner, audit } = await setup(1, {}, () => 20);
    await tuner.apply({ threads: 16, maxBatch: 128 }, 'bob');
    const rec = audit.list({ kind: 'trial' }).at(-1)!;
    expect(rec.requested).toEqual({ threads: 8, maxBatch: 16 });
    expect(rec.limited).toEqual({ threads: ['step'], maxBatch: ['step'] });
    expect(admins[0].puts).toEqual([{ threads: 8, maxBatch: 16 }]);
  });

  it('a service 400 is a refused change and nothing is in effect', async () => {
    const { tuner, audit } = await setup(1, { rejectAbove: { maxBatch: 12 } }, () => 20);
    const out = await tuner.apply({ maxBatch: 16 }, 'bob');
    expect(out.verdict).toBe('refused');
    expect(out.reason).toMatch(/refused.*400/);
    expect(admins[0].knobs.maxBatch).toBe(8);
    expect(audit.list({ kind: 'refused' })).toHaveLength(1);
  });

  it('rolls back an injected p99 regression automatically, and the audit shows it', async () => {
    const { tuner, audit } = await setup(1, {}, (k) => (Number(k.threads) >= 8 ? 80 : 20));
    const out = await tuner.apply({ threads: 8 }, 'carol');
    expect(out.verdict).toBe('rolled-back');
    expect(admins[0].knobs.threads).toBe(4);
    expect(admins[0].puts).toEqual([{ threads: 8, maxBatch: 8 }, { threads: 4, maxBatch: 8 }]);
    const rec = audit.list({ kind: 'trial' }).at(-1)!;
    expect(rec.verdict).toBe('rolled-back');
    expect(rec.applied?.i0.threads).toBe(8);
    expect(rec.checks?.join(' ')).toMatch(/p99 .* > baseline/);
    expect(rec.after!.p99Ms).toBeGreaterThan(rec.before!.p99Ms);
  });

  it('canaries on one instance first: a regression never reaches the others', async () => {
    const { tuner } = await setup(3, {}, (k) => (Number(k.maxBatch) >= 16 ? 90 : 20));
    const out = await tuner.apply({ maxBatch: 16 }, 'dave');
    expect(out.verdict).toBe('rolled-back');
    expect(out.record.canary).toBe('i0');
    expect(admins[0].puts).toHaveLength(2); // applied, then reverted
    expect(admins[1].puts).toHaveLength(0);
    expect(admins[2].puts).toHaveLength(0);
    // a good change goes canary → all
    const good = await tuner.apply({ threads: 5 }, 'dave');
    expect(good.verdict).toBe('kept');
    expect(admins.map((a) => a.knobs.threads)).toEqual([5, 5, 5]);
  });

  it('rolls back when latency climbs through the window (queue building), not only on p99', async () => {
    // threads 2: capacity too low, latency climbs through the window (queue building)
    const { tuner } = await setup(1, {}, (k, t) => (Number(k.threads) <= 2 ? 10 + (t / 1000) * 4 : 20));
    const out = await tuner.apply({ threads: 2 }, 'erin');
    expect(out.verdict).toBe('rolled-back');
    expect(out.record.checks?.join(' ')).toMatch(/queue growing/);
  });

  it('tells the optimizer every settled, non-overlapping window of the config in effect, and both readings of a kept trial', async () => {
    const { tuner, world } = await setup(2, {}, () => 20);
    expect(tuner.currentRegime().trials).toBe(1); // setup's first window
    await world.sleep(WINDOW / 2);
    await tuner.tick(); // half of this window was told already
    expect(tuner.currentRegime().trials).toBe(1);
    await world.sleep(WINDOW / 2);
    await tuner.tick(); // a fresh window of the same config: a replicate
    expect(tuner.currentRegime().trials).toBe(2);
    const out = await tuner.apply({ threads: 5 }, 'gina');
    expect(out.verdict).toBe('kept');
    // the canary's window (vs the unchanged instance) and the whole fleet's window
    expect(tuner.currentRegime().trials).toBe(4);
    await tuner.tick(); // overlaps the trial's last window
    expect(tuner.currentRegime().trials).toBe(4);
    await world.sleep(WINDOW);
    await tuner.tick();
    expect(tuner.currentRegime().trials).toBe(5);
  });

  it('rolls back on a regime change mid-trial and does not learn from it', async () => {
    const { tuner, world } = await setup(1, {}, () => 20);
    const sleep = world.sleep;
    world.sleep = async (ms) => {
      world.ratePerS = 500; // traffic ×10 arrives during the trial's window
      await sleep(ms);
    };
    const observationsBefore = tuner.currentRegime().trials;
    // the tuner learned its regime at 50 req/s in setup()
    const out = await tuner.apply({ threads: 5 }, 'frank');
    expect(out.verdict).toBe('rolled-back');
    expect(out.record.checks?.join(' ')).toMatch(/regime changed/);
    expect(admins[0].knobs.threads).toBe(4);
    expect(tuner.currentRegime().trials).toBe(observationsBefore);
  });

  it('kill switch reverts to the pinned config and stops all changes', async () => {
    const { tuner, audit } = await setup(2, {}, () => 20);
    expect((await tuner.apply({ threads: 6 }, 'gina')).verdict).toBe('kept');
    expect(admins.map((a) => a.knobs.threads)).toEqual([6, 6]);
    await tuner.setKillSwitch(true, 'oncall');
    expect(admins.map((a) => a.knobs.threads)).toEqual([4, 4]);
    const refused = await tuner.apply({ threads: 5 }, 'gina');
    expect(refused.verdict).toBe('refused');
    expect(admins.map((a) => a.knobs.threads)).toEqual([4, 4]);
    const tick = await tuner.tick();
    expect(tick.note).toBe('kill switch on');
    expect(audit.list({ kind: 'kill-switch' })[0].applied).toEqual({ i0: { threads: 4, maxBatch: 8 }, i1: { threads: 4, maxBatch: 8 } });
  });

  it('manual rollback restores the config before the last kept change', async () => {
    const { tuner } = await setup(1, {}, () => 20);
    await tuner.apply({ threads: 6 }, 'h');
    await tuner.apply({ maxBatch: 12 }, 'h');
    await tuner.rollback('h');
    expect(admins[0].knobs).toEqual({ threads: 6, maxBatch: 8 });
  });

  it('observe mode suggests with reasons and applies nothing', async () => {
    const { tuner, audit } = await setup(1, {}, (k) => 10 + Math.abs(Number(k.threads) - 7) * 3, { mode: 'observe' });
    const s = tuner.listSuggestions('open');
    expect(s.length).toBe(1);
    expect(s[0].reasons.length).toBeGreaterThan(0);
    await expect(tuner.approve(s[0].id, 'x')).rejects.toThrow(/observe/);
    expect(admins[0].puts).toHaveLength(0);
    expect(audit.list({ kind: 'suggestion' })[0].verdict).toBe('would-apply');
  });

  it('auto mode tunes toward the better config inside the approved envelope', async () => {
    const { tuner, world } = await setup(1, {}, (k) => 10 + Math.abs(Number(k.threads) - 9) * 4 + Math.abs(Math.log2(Number(k.maxBatch) / 16)) * 3, {
      mode: 'auto',
      guardrails: { approvedRanges: { threads: { min: 2, max: 12 }, maxBatch: { min: 4, max: 32 } }, minIntervalMs: 0, p99Tolerance: 0.5 },
    });
    // the regime's first change waits for a human, even in auto mode
    await approveFirst(tuner, world);
    for (let i = 0; i < 12; i++) {
      await world.sleep(WINDOW);
      await tuner.tick();
    }
    const best = tuner.currentRegime().best!;
    expect(Number(best.config.threads)).toBeGreaterThanOrEqual(7);
    expect(Number(admins[0].knobs.threads)).toBeLessThanOrEqual(12);
    for (const p of admins[0].puts) {
      expect(Number(p.threads)).toBeLessThanOrEqual(12);
      expect(Number(p.maxBatch)).toBeGreaterThanOrEqual(4);
      expect(Number(p.maxBatch)).toBeLessThanOrEqual(32);
    }
  });

  it('auto mode leaves a knob without an approved range alone', async () => {
    const { tuner, world } = await setup(1, {}, (k) => 10 + Math.abs(Number(k.threads) - 9) * 4 + Math.abs(Math.log2(Number(k.maxBatch) / 64)) * 3, {
      mode: 'auto',
      guardrails: { approvedRanges: { threads: { min: 2, max: 12 } }, minIntervalMs: 0, p99Tolerance: 0.5 },
    });
    await approveFirst(tuner, world);
    for (let i = 0; i < 5; i++) {
      await world.sleep(WINDOW);
      await tuner.tick();
    }
    expect(admins[0].puts.length).toBeGreaterThan(0);
    for (const p of admins[0].puts) expect(p.maxBatch).toBe(8);
  });
});

describe('JsonlAuditSink', () => {
  it('keeps every acknowledged record across reopen and tolerates a torn last line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuner-audit-'));
    try {
      const file = path.join(dir, 'audit.jsonl');
      const a = new JsonlAuditSink(file);
      a.append({ id: '1', timeMs: 1, kind: 'trial', service: 's', regime: 'r', mode: 'auto', reason: 'x', applied: { i0: { threads: 6 } }, verdict: 'kept' });
      a.append({ id: '2', timeMs: 2, kind: 'rollback', service: 's', regime: 'r', mode: 'auto', reason: 'y' });
      a.close();
      fs.appendFileSync(file, '{"id":"3","timeM'); // a crash mid-write
      const b = new JsonlAuditSink(file);
      expect(b.list().map((r) => r.id)).toEqual(['1', '2']);
      expect(b.list({ kind: 'trial' })[0].applied).toEqual({ i0: { threads: 6 } });
      b.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HttpKnobApplier response shapes', () => {
  it('reads both {name: value} and the demo services\' {generation, knobs: {name: {…, value}}}', () => {
    const { knobValues } = require('../../tuner/appliers') as typeof import('../../tuner/appliers');
    expect(knobValues({ threads: 4, policy: 'lru' })).toEqual({ threads: 4, policy: 'lru' });
    expect(knobValues({ generation: 3, knobs: { batchSize: { min: 1, max: 256, value: 8 }, batchTimeoutMs: { value: 4, unit: 'ms' } } })).toEqual({ batchSize: 8, batchTimeoutMs: 4 });
  });
});
