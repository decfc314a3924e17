// TunerService: the tuner as the agent runs it. Each tick measures the service's last window
// from telemetry, updates the load regime, feeds the regime's optimizer and produces a
// suggestion with its expected effect and reasons. Changes go through runTrial only:
// bounds/step limits, auto-mode envelope, canary on one instance first, an evaluation
// window that also looks at queue growth, automatic rollback, and an audit record of the
// configuration read back from the service.

import type { TelemetryReader } from '../model/store';
import { ApplyError, CommandKnobApplier, FileKnobApplier, HttpKnobApplier, type KnobApplier } from './appliers';
import type { AuditFilter, AuditSink, MeasurementSummary, TrialVerdict, TunerAuditRecord, TunerMode } from './audit';
import type { TunerConfig } from './config';
import { measureWindow, type MeasureQuery, type WindowMeasurement } from './measure';
import { RegimeOptimizer, type ConstraintSpec, type Observation, type ProposalReason, type Transform } from './optimizer';
import { RegimeDetector, regimeDistance, type Regime } from './regime';
import { settleAfterChange } from './settle';
import { limitConfig, type Config, type KnobSpec } from './space';
import { compareCanary, twoProportionGreater } from './stats';

export interface TunerServiceDeps {
  config: TunerConfig;
  telemetry: TelemetryReader;
  applier: KnobApplier;
  audit: AuditSink;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Replaces the telemetry measurement (the CLI's own probes); default measureWindow(telemetry, …). */
  measure?: (q: MeasureQuery) => WindowMeasurement | Promise<WindowMeasurement>;
}

export type SuggestionStatus = 'open' | 'applied' | 'rolled-back' | 'refused' | 'superseded';

export interface Suggestion {
  id: string;
  createdMs: number;
  regime: string;
  status: SuggestionStatus;
  current: Config;
  config: Config;
  limited: Record<string, string[]>;
  reason: ProposalReason;
  /** Plain-language reasons: why this config, what is expected, which guardrails bind. */
  reasons: string[];
  expected: {
    objective?: { current?: number; predicted: number; sdLog: number };
    constraints?: Record<string, { predicted: number; max: number; pFeasible: number }>;
  };
}

export interface TrialOutcome {
  verdict: TrialVerdict;
  reason: string;
  record: TunerAuditRecord;
}

export interface RegimeView {
  regime?: string;
  ratePerSPerInstance?: number;
  enteredAtMs?: number;
  mode: TunerMode;
  killSwitch: boolean;
  trialRunning: boolean;
  trials: number;
  best?: { config: Config; predictedObjective: number };
  knownRegimes: string[];
  /** The last failure of the background loop (target down, telemetry gap), if any. */
  lastError?: string;
}

export class TunerConflictError extends Error {}

interface RegimeState {
  regime: Regime;
  optimizer: RegimeOptimizer;
  lastToldKey?: string;
  /** End of the last window told to this regime's optimizer: windows told never overlap. */
  toldUntilMs?: number;
  /** A change approved (or applied) by a human was kept in this regime: auto mode may act alone. */
  humanApproved?: boolean;
}

export interface UtilisationPrecheck {
  rho: number;
  max: number;
  ratePerS: number;
  serviceTimeMs: number;
  concurrency: number;
}

const CONSTRAINT_TRANSFORM: Record<string, Transform> = { errorRate: 'logit', p99Ms: 'log', p50Ms: 'log', meanMs: 'log', utilisation: 'none', queueSlopePerS: 'none' };

export function createApplier(cfg: TunerConfig['applier']): KnobApplier {
  if (cfg.kind === 'http') return new HttpKnobApplier(cfg.targets, cfg.timeoutMs);
  if (cfg.kind === 'file') return new FileKnobApplier({ instance: cfg.instance, file: cfg.file, format: cfg.format, pid: cfg.pid, pidFile: cfg.pidFile, signal: cfg.signal as NodeJS.Signals });
  return new CommandKnobApplier({ instance: cfg.instance, readCommand: cfg.readCommand, applyCommand: cfg.applyCommand, timeoutMs: cfg.timeoutMs });
}

function summary(m: WindowMeasurement, objective?: number): MeasurementSummary {
  const s: MeasurementSummary = { fromMs: m.fromMs, toMs: m.toMs, requests: m.requests, ratePerS: round(m.ratePerS), p99Ms: round(m.p99Ms), errorRate: round(m.errorRate, 5) };
  if (m.utilisation !== undefined) s.utilisation = round(m.utilisation, 4);
  if (m.queueSlopePerS !== undefined) s.queueSlopePerS = round(m.queueSlopePerS, 4);
  if (objective !== undefined) s.objective = round(objective);
  return s;
}

function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = Math.pow(10, digits);
  return Math.round(v * f) / f;
}

export class TunerService {
  readonly config: TunerConfig;
  readonly knobs: KnobSpec[];
  private readonly constraints: ConstraintSpec[];
  private readonly detector: RegimeDetector;
  private readonly regimes = new Map<string, RegimeState>();
  private readonly suggestionsById = new Map<string, Suggestion>();
  private readonly keptChanges: Array<{ previous: Config; applied: Config; timeMs: number }> = [];
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private mode: TunerMode;
  private killSwitch = false;
  private trialRunning = false;
  private lastChangeMs = Number.NEGATIVE_INFINITY;
  /** How long the last change needs before a window measures it (tuner/settle.ts; ≥ evaluation.settleMs). */
  private lastChangeSettleMs: number;
  private lastRate?: number;
  private pinned?: Config;
  private seq = 0;
  private timer?: NodeJS.Timeout;
  private lastError?: string;

  constructor(private readonly deps: TunerServiceDeps) {
    this.config = deps.config;
    this.knobs = deps.config.knobs as KnobSpec[];
    this.mode = deps.config.mode;
    this.lastChangeSettleMs = deps.config.evaluation.settleMs;
    this.constraints = deps.config.objective.constraints.map((c) => ({ name: c.metric, max: c.max, transform: CONSTRAINT_TRANSFORM[c.metric] }));
    this.detector = new RegimeDetector(deps.config.regimes);
    this.clock = deps.clock ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.pinned = deps.config.guardrails.pinned as Config | undefined;
  }

  // ---------------------------------------------------------------- views

  currentRegime(): RegimeView {
    const r = this.detector.regime;
    const st = r ? this.regimes.get(r.key) : undefined;
    const best = st?.optimizer.best();
    return {
      regime: r?.key,
      ratePerSPerInstance: this.lastRate !== undefined ? round(this.lastRate) : undefined,
      enteredAtMs: r ? this.detector.enteredAtMs : undefined,
      mode: this.mode,
      killSwitch: this.killSwitch,
      trialRunning: this.trialRunning,
      trials: st?.optimizer.observations.length ?? 0,
      best: best ? { config: best.config, predictedObjective: round(best.predictedObjective) } : undefined,
      knownRegimes: [...this.regimes.keys()],
      lastError: this.lastError,
    };
  }

  listSuggestions(status?: SuggestionStatus): Suggestion[] {
    return [...this.suggestionsById.values()].filter((s) => !status || s.status === status).map((s) => structuredClone(s));
  }

  history(filter?: AuditFilter): TunerAuditRecord[] {
    return this.deps.audit.list(filter);
  }

  getMode(): TunerMode {
    return this.mode;
  }

  isKillSwitchOn(): boolean {
    return this.killSwitch;
  }

  setMode(mode: TunerMode, actor = 'operator'): void {
    // Open suggestions were made under the old mode's rules (envelope, approvals): drop them.
    if (mode !== this.mode) for (const s of this.suggestionsById.values()) if (s.status === 'open') s.status = 'superseded';
    this.mode = mode;
    this.record({ kind: 'mode', reason: `mode set to ${mode}`, actor });
  }

  // ---------------------------------------------------------------- loop

  start(): void {
    if (this.timer) return;
    const run = () => {
      this.tick().then(
        () => (this.lastError = undefined),
        (e: Error) => (this.lastError = `${new Date(this.clock()).toISOString()} ${e.message}`),
      );
    };
    this.timer = setInterval(run, this.config.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async measure(fromMs: number, toMs: number, instances?: string[], samples = false): Promise<WindowMeasurement> {
    const q: MeasureQuery = { service: this.config.service, fromMs, toMs, instances, utilisationMetric: this.config.telemetry.utilisationMetric, queueMetric: this.config.telemetry.queueMetric, samples };
    return this.deps.measure ? await this.deps.measure(q) : measureWindow(this.deps.telemetry, q);
  }

  /**
   * The analytic utilisation of a config at a request rate per instance (ρ = λ·s/c), or
   * undefined when no pre-check is configured. Catches "near capacity looks fine in a short
   * window" before anything is applied.
   */
  precheck(config: Config, ratePerSPerInstance: number): UtilisationPrecheck | undefined {
    const p = this.config.guardrails.utilisationPrecheck;
    if (!p || !(ratePerSPerInstance >= 0)) return undefined;
    const b = p.batchKnob !== undefined ? Math.max(1, Number(config[p.batchKnob])) : undefined;
    const serviceTimeMs = b !== undefined && Number.isFinite(b) ? p.perBatchMs / b + p.perItemMs : (p.serviceTimeMs as number);
    const c = p.concurrencyKnob !== undefined ? Math.max(1e-9, Number(config[p.concurrencyKnob])) : p.concurrency;
    const concurrency = Number.isFinite(c) ? c : p.concurrency;
    const rho = ((ratePerSPerInstance / 1000) * serviceTimeMs) / concurrency;
    return { rho: round(rho, 4), max: p.max, ratePerS: round(ratePerSPerInstance), serviceTimeMs: round(serviceTimeMs, 4), concurrency };
  }

  /** Auto mode may run a trial on its own in this regime (the first change needs a human). */
  private autoMayAct(st: RegimeState | undefined): boolean {
    return !this.config.guardrails.firstChangeApproval || st?.humanApproved === true;
  }

  objectiveOf(config: Config, m: WindowMeasurement): number {
    let v = m[this.config.objective.metric];
    for (const t of this.config.objective.costTerms) v += t.weight * Number(config[t.knob] ?? 0);
    return v;
  }

  private observation(config: Config, m: WindowMeasurement, failed = false): Observation {
    const constraints: Record<string, number> = {};
    for (const c of this.constraints) {
      const v = (m as unknown as Record<string, number | undefined>)[c.name];
      if (v !== undefined && Number.isFinite(v)) constraints[c.name] = v;
    }
    return { config: this.knobsOnly(config), objective: this.objectiveOf(config, m), constraints, failed };
  }

  private knobsOnly(c: Config): Config {
    const out: Config = {};
    for (const k of this.knobs) if (c[k.name] !== undefined) out[k.name] = c[k.name];
    return out;
  }

  private stateFor(regime: Regime): RegimeState {
    let st = this.regimes.get(regime.key);
    if (st) return st;
    // Transfer: warm start from the best configs of the most similar tuned regimes.
    const similar = [...this.regimes.values()]
      .map((s) => ({ s, d: regimeDistance(s.regime, regime), best: s.optimizer.best() }))
      .filter((x) => x.best)
      .sort((a, b) => a.d - b.d)
      .slice(0, 2);
    st = {
      regime,
      optimizer: new RegimeOptimizer({ knobs: this.knobs, constraints: this.constraints, seed: this.config.seed + this.regimes.size, warmStart: similar.map((x) => x.best!.config) }),
    };
    this.regimes.set(regime.key, st);
    return st;
  }

  private async ensurePinned(): Promise<void> {
    if (this.pinned) return;
    this.pinned = this.knobsOnly(await this.deps.applier.read(this.deps.applier.instances()[0]));
  }

  /**
   * One loop step: measure, update the regime, learn from the config in effect, suggest; in
   * auto mode run the suggestion as a trial when it lies in the approved envelope.
   */
  async tick(): Promise<{ regime?: string; suggestion?: Suggestion; trial?: TrialOutcome; note?: string }> {
    if (this.trialRunning) return { regime: this.detector.regime?.key, note: 'a trial is running' };
    await this.ensurePinned();
    const now = this.clock();
    const instances = this.deps.applier.instances();
    const m = await this.measure(now - this.config.evaluation.windowMs, now);
    if (m.requests === 0) return { regime: this.detector.regime?.key, note: 'no traffic in the window' };
    this.lastRate = m.ratePerS / instances.length;
    const { regime, changed } = this.detector.update(this.lastRate, m.mix, now);
    const st = this.stateFor(regime);
    if (changed) for (const s of this.suggestionsById.values()) if (s.status === 'open') s.status = 'superseded';
    const current = this.knobsOnly(await this.deps.applier.read(instances[0]));
    const key = st.optimizer.space.key(current);
    // Every full window of the config in effect is told, not only its first: a p99 over one
    // window is noisy, and replicates of the incumbent are what let the model tell a real
    // improvement from a lucky reading. A window is told only when it is all one config
    // (after the last change has settled) and overlaps no window told before.
    const windowStart = now - this.config.evaluation.windowMs;
    const settled = windowStart >= this.lastChangeMs + this.lastChangeSettleMs;
    const fresh = st.toldUntilMs === undefined || windowStart >= st.toldUntilMs;
    if (m.requests >= this.config.evaluation.minRequests && (st.lastToldKey !== key || (settled && fresh))) {
      st.optimizer.tell(this.observation(current, m));
      st.lastToldKey = key;
      st.toldUntilMs = now;
    }
    if (this.killSwitch) return { regime: regime.key, note: 'kill switch on' };
    // A trial's baseline is the window before it: when a knob's own settle is longer than the
    // evaluation's, no trial starts until that window is all settled (a reverted TTL or cache
    // size takes a while to show again; tuner/settle.ts).
    const settling =
      !settled && this.lastChangeSettleMs > this.config.evaluation.settleMs
        ? { regime: regime.key, note: `the last change settles until ${new Date(this.lastChangeMs + this.lastChangeSettleMs + this.config.evaluation.windowMs).toISOString()}` }
        : undefined;
    const open = [...this.suggestionsById.values()].find((s) => s.status === 'open' && s.regime === regime.key);
    if (open) {
      const sameBase = st.optimizer.space.key(open.current) === key;
      // Held for a human (first change of the regime) but the regime has been unlocked since:
      // auto mode runs it now.
      if (sameBase && this.mode === 'auto' && this.autoMayAct(st) && this.insideEnvelope(open.config, current).ok) {
        if (settling) return { ...settling, suggestion: open };
        const trial = await this.runSuggestion(open, 'auto');
        return { regime: regime.key, suggestion: open, trial };
      }
      if (sameBase) return { regime: regime.key, suggestion: open };
      open.status = 'superseded'; // made for a config that is no longer in effect
    }
    if (now - this.lastChangeMs < this.config.guardrails.minIntervalMs) return { regime: regime.key, note: 'minimum interval between changes' };
    if (settling) return settling;
    const suggestion = this.suggest(st, current, m);
    if (!suggestion) return { regime: regime.key, note: 'current configuration is the best known for this regime' };
    if (this.mode === 'auto' && this.insideEnvelope(suggestion.config, current).ok && this.autoMayAct(st)) {
      const trial = await this.runSuggestion(suggestion, 'auto');
      return { regime: regime.key, suggestion, trial };
    }
    return { regime: regime.key, suggestion };
  }

  private suggest(st: RegimeState, current: Config, m: WindowMeasurement): Suggestion | undefined {
    const rate = this.lastRate;
    const admissible = (c: Config) => {
      const pc = rate !== undefined ? this.precheck(c, rate) : undefined;
      return !pc || pc.rho < pc.max;
    };
    const p = st.optimizer.ask(current, { admissible });
    const limitedProposal = limitConfig(this.knobs, current, p.config);
    const { config, limited } = this.mode === 'auto' ? this.clampToEnvelope(limitedProposal.config, current, limitedProposal.limited) : limitedProposal;
    if (st.optimizer.space.key(config) === st.optimizer.space.key(current)) return undefined;
    const currentObjective = this.objectiveOf(current, m);
    const reasons: string[] = [];
    const show = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v);
    const changes = this.knobs.filter((k) => config[k.name] !== current[k.name]).map((k) => `${k.name} ${show(current[k.name])} → ${show(config[k.name])}`);
    reasons.push(`regime ${st.regime.key}: ${changes.join(', ')}`);
    const why: Record<ProposalReason, string> = {
      baseline: 'measure the configuration in effect first',
      'warm-start': 'best configuration of a similar load regime (transfer)',
      'local-design': 'one full step of a single knob, to learn its local effect',
      exploit: 'predicted better than the incumbent (expected improvement × probability of feasibility)',
      explore: 'uncertain region near the incumbent worth measuring (expected improvement × probability of feasibility)',
      're-measure': 're-measure the incumbent (noisy evidence)',
    };
    reasons.push(why[p.reason]);
    const expected: Suggestion['expected'] = {};
    if (p.predicted) {
      const pred = p.predicted.objective.mean;
      expected.objective = { current: round(currentObjective), predicted: round(pred), sdLog: round(p.predicted.objective.sd) };
      const pct = ((pred - currentObjective) / currentObjective) * 100;
      reasons.push(`expected ${this.config.objective.metric}${this.config.objective.costTerms.length ? '+cost' : ''} ${round(pred)} vs ${round(currentObjective)} now (${pct >= 0 ? '+' : ''}${round(pct, 1)} %)`);
      expected.constraints = {};
      for (const c of this.constraints) {
        const pc = p.predicted.constraints[c.name];
        if (!pc) continue;
        expected.constraints[c.name] = { predicted: round(pc.mean, 5), max: c.max, pFeasible: round(pc.pof, 3) };
        reasons.push(`${c.name}: predicted ${round(pc.mean, 4)} (limit ${c.max}, P(within) ${round(pc.pof, 2)})`);
      }
    }
    for (const [k, why2] of Object.entries(limited)) reasons.push(`${k} limited by ${why2.join(' and ')}`);
    const env = this.insideEnvelope(config, current);
    if (this.mode === 'auto' && !env.ok) reasons.push(`outside the approved envelope (${env.reason}): needs approval`);
    if (this.mode === 'auto' && env.ok && !this.autoMayAct(st)) reasons.push(`first change in regime ${st.regime.key}: needs a human approval even in auto mode`);
    const pc = rate !== undefined ? this.precheck(config, rate) : undefined;
    if (pc) reasons.push(`utilisation pre-check: ρ = ${pc.rho} at ${pc.ratePerS} req/s per instance (limit ${pc.max})`);
    const s: Suggestion = { id: `s${this.clock().toString(36)}-${++this.seq}`, createdMs: this.clock(), regime: st.regime.key, status: 'open', current, config, limited, reason: p.reason, reasons, expected };
    this.suggestionsById.set(s.id, s);
    this.record({ kind: 'suggestion', suggestionId: s.id, reason: reasons.join('; '), previous: current, requested: config, limited, predicted: expected, verdict: this.mode === 'observe' ? 'would-apply' : undefined });
    return s;
  }

  /**
   * Auto mode's approved envelope: knobs with an approved range must stay inside it, knobs
   * without one must stay as they are (`current`).
   */
  insideEnvelope(config: Config, current: Config): { ok: boolean; reason?: string } {
    const ranges = this.config.guardrails.approvedRanges;
    for (const k of this.knobs) {
      const r = ranges[k.name];
      if (!r) {
        if (config[k.name] !== undefined && config[k.name] !== current[k.name]) return { ok: false, reason: `${k.name} has no approved range` };
        continue;
      }
      const v = config[k.name];
      if (r.choices && !r.choices.includes(String(v))) return { ok: false, reason: `${k.name}=${v} not in approved choices` };
      if (typeof v === 'number' && ((r.min !== undefined && v < r.min) || (r.max !== undefined && v > r.max))) return { ok: false, reason: `${k.name}=${v} outside [${r.min ?? '-∞'}, ${r.max ?? '∞'}]` };
    }
    return { ok: true };
  }

  /** Brings a proposal inside the auto-mode envelope (then re-applies the step limits from current). */
  private clampToEnvelope(config: Config, current: Config, limited: Record<string, string[]>): { config: Config; limited: Record<string, string[]> } {
    const ranges = this.config.guardrails.approvedRanges;
    const out: Config = { ...config };
    const lim: Record<string, string[]> = { ...limited };
    for (const k of this.knobs) {
      const r = ranges[k.name];
      const v = out[k.name];
      let next = v;
      if (!r) next = current[k.name];
      else if (r.choices && !r.choices.includes(String(v))) next = current[k.name];
      else if (typeof v === 'number') next = Math.min(r.max ?? Infinity, Math.max(r.min ?? -Infinity, v));
      if (next !== v) {
        out[k.name] = next;
        lim[k.name] = [...(lim[k.name] ?? []), 'envelope'];
      }
    }
    return { config: limitConfig(this.knobs, current, out).config, limited: lim };
  }

  // ---------------------------------------------------------------- actions

  /** A human approves a suggestion (approve/auto mode): it runs as a trial. */
  async approve(id: string, actor: string): Promise<TrialOutcome> {
    const s = this.suggestionsById.get(id);
    if (!s) throw new TunerConflictError(`no suggestion ${id}`);
    if (s.status !== 'open') throw new TunerConflictError(`suggestion ${id} is ${s.status}`);
    if (this.mode === 'observe') throw new TunerConflictError('mode is observe: suggestions are not applied (set mode approve or auto)');
    this.record({ kind: 'approval', suggestionId: id, actor, reason: `approved by ${actor}`, requested: s.config });
    return this.runSuggestion(s, actor);
  }

  private async runSuggestion(s: Suggestion, actor: string): Promise<TrialOutcome> {
    const out = await this.runTrial(s.config, { reason: `${s.reason}: ${s.reasons[0]}`, actor, suggestionId: s.id, predicted: s.expected });
    s.status = out.verdict === 'kept' ? 'applied' : out.verdict === 'rolled-back' ? 'rolled-back' : 'refused';
    return out;
  }

  /** Applies an explicit configuration through the same guarded path (approve/auto mode). */
  async apply(config: Config, actor: string, reason = 'manual apply'): Promise<TrialOutcome> {
    if (this.mode === 'observe') throw new TunerConflictError('mode is observe: nothing is applied (set mode approve or auto)');
    const unknown = Object.keys(config).filter((k) => !this.knobs.some((kn) => kn.name === k));
    if (unknown.length) throw new TunerConflictError(`unknown knobs: ${unknown.join(', ')}`);
    return this.runTrial(config, { reason, actor });
  }

  private async applyAll(instances: string[], config: Config): Promise<Record<string, Config>> {
    const applied: Record<string, Config> = {};
    for (const i of instances) applied[i] = this.knobsOnly(await this.deps.applier.apply(i, config));
    return applied;
  }

  /**
   * The guarded change: limits, envelope, canary first, evaluation window, rollback on
   * regression or regime change, audit of what was really in effect.
   */
  async runTrial(requested: Config, why: { reason: string; actor?: string; suggestionId?: string; predicted?: unknown }): Promise<TrialOutcome> {
    if (this.killSwitch) return this.refuse('kill switch is on', why);
    if (this.trialRunning) return this.refuse('another trial is running', why);
    this.trialRunning = true;
    try {
      await this.ensurePinned();
      const instances = this.deps.applier.instances();
      const canary = instances[0];
      const rest = instances.slice(1);
      const previous = this.knobsOnly(await this.deps.applier.read(canary));
      const { config, limited } = limitConfig(this.knobs, previous, requested);
      const st = this.detector.regime ? this.stateFor(this.detector.regime) : undefined;
      if (this.mode === 'auto' && why.actor === 'auto') {
        const env = this.insideEnvelope(config, previous);
        if (!env.ok) return this.refuse(`outside the approved envelope: ${env.reason}`, why, { previous, requested: config, limited });
        if (!this.autoMayAct(st)) return this.refuse(`first change in regime ${st?.regime.key ?? 'unknown'} needs a human approval`, why, { previous, requested: config, limited });
      }
      const { windowMs } = this.config.evaluation;
      const settleMs = settleAfterChange(this.config.knobs, previous, config, this.config.evaluation.settleMs);
      const t0 = this.clock();
      const before = await this.measure(t0 - windowMs, t0, rest.length ? rest : undefined, true);
      const precheck = this.precheck(config, before.ratePerS / Math.max(1, rest.length || 1));
      if (precheck && precheck.rho >= precheck.max)
        return this.refuse(`utilisation pre-check: predicted ρ = ${precheck.rho} ≥ ${precheck.max} (λ ${precheck.ratePerS} req/s × ${precheck.serviceTimeMs} ms / ${precheck.concurrency})`, why, {
          previous,
          requested: config,
          limited,
          precheck,
        });
      // The rollout plan: the canary alone, then cumulative shares of the instances.
      const plan: string[][] = [[canary]];
      for (const share of this.config.guardrails.stages) {
        const n = Math.max(plan[plan.length - 1].length + 1, Math.ceil(share * instances.length));
        if (n > instances.length) break;
        plan.push(instances.slice(0, n));
      }
      if (plan[plan.length - 1].length < instances.length) plan.push(instances.slice());
      const applied: Record<string, Config> = {};
      const stages: NonNullable<TunerAuditRecord['stages']> = [];
      const stage = async (cohort: string[]): Promise<{ failed: string[]; m: WindowMeasurement; all: WindowMeasurement }> => {
        await this.sleep(settleMs + windowMs);
        let win = windowMs;
        let t = this.clock();
        let m = await this.measure(t - win, t, cohort, true);
        // Too few requests for a steady p99 (a canary gets 1/n of the traffic): extend the
        // window, up to 3× in all, rather than judge on noise.
        const minReq = this.config.evaluation.minRequests;
        if (m.requests > 0 && m.requests < minReq) {
          const extra = Math.min(2 * windowMs, Math.ceil(win * (minReq / m.requests - 1) * 1.1));
          await this.sleep(extra);
          win += extra;
          t = this.clock();
          m = await this.measure(t - win, t, cohort, true);
        }
        const all = await this.measure(t - win, t);
        // Baseline cohort: the instances not yet changed, same window; the window before
        // the change when every instance has it.
        const untouched = instances.filter((i) => !cohort.includes(i));
        // (when every instance has it: the same instances in the window before the change)
        const base = untouched.length ? await this.measure(t - win, t, untouched, true) : await this.measure(t0 - windowMs, t0, cohort, true);
        // Instances are not exchangeable (placement, neighbours, their own caches): the ratio
        // of the cohort's mean latency to the baseline's in the window before the change is a
        // per-instance offset, and the baseline is scaled by it (a difference in differences).
        // Means, not medians: with a cache the latencies are a hit/miss mixture and the median
        // jumps between the modes. Clamped to [½, 2]: a larger gap is not a constant offset.
        let offset = 1;
        if (untouched.length) {
          const preC = await this.measure(t0 - windowMs, t0, cohort, true);
          const preB = await this.measure(t0 - windowMs, t0, untouched, true);
          if (preC.requests >= 20 && preB.requests >= 20 && preB.meanMs > 0) offset = Math.min(2, Math.max(0.5, preC.meanMs / preB.meanMs));
        }
        const { failed, stats } = this.checks(m, base, all, instances.length, offset);
        stages.push({ instances: cohort.slice(), baseline: untouched.length ? untouched : 'before', failed, stats: { ...(stats as object), preChangeOffset: round(offset, 4) } });
        return { failed, m, all };
      };
      let result: { failed: string[]; m: WindowMeasurement; all: WindowMeasurement } | undefined;
      let canaryWindow: WindowMeasurement | undefined; // the first stage's, when later stages follow
      for (const cohort of plan) {
        const newly = cohort.filter((i) => !(i in applied));
        try {
          Object.assign(applied, await this.applyAll(newly, config));
        } catch (e) {
          if (Object.keys(applied).length === 0) {
            const refused = e instanceof ApplyError && e.refused;
            return this.finish('refused', `${refused ? 'service refused the values' : 'apply failed'}: ${(e as Error).message}`, why, { previous, requested: config, limited, instances, canary, precheck });
          }
          result = { failed: [`apply to ${newly.join(', ')} failed: ${(e as Error).message}`], m: result?.m ?? before, all: result?.all ?? before };
          break;
        }
        this.markChange(settleMs);
        result = await stage(cohort);
        canaryWindow ??= result.m;
        if (this.killSwitch) return this.finish('rolled-back', 'kill switch pressed during the trial (already reverted)', why, { previous, requested: config, limited, applied, instances, canary, before: summary(before), after: summary(result.m), stages });
        if (result.failed.length) break;
      }
      const res = result as { failed: string[]; m: WindowMeasurement; all: WindowMeasurement };
      const effective = applied[canary];
      // What the audit record says of this trial, whichever way it ends.
      const trial = {
        previous,
        requested: config,
        limited,
        applied,
        instances,
        canary,
        before: summary(before, this.objectiveOf(previous, before)),
        after: summary(res.m, this.objectiveOf(effective, res.m)),
        stages,
        precheck,
        settleMs,
      };
      if (res.failed.length) {
        const touched = Object.keys(applied);
        const reverted = await this.applyAll(touched, previous).catch((e: Error) => ({ error: { message: e.message } }) as unknown as Record<string, Config>);
        this.markChange(settleMs);
        const regimeChanged = res.failed.some((f) => f.startsWith('regime changed'));
        // A regime change says nothing about the config: discard instead of learning from it.
        if (st && !regimeChanged) st.optimizer.tell(this.observation(effective, res.m, true));
        // A human approved the tuner changing this regime; the guardrails took it back. That
        // approval stands for the regime (else a noisy first trial would stall auto mode there).
        if (st && why.actor !== 'auto' && !regimeChanged) st.humanApproved = true;
        return this.finish('rolled-back', `rolled back: ${res.failed.join('; ')}`, why, { ...trial, checks: res.failed, reverted });
      }
      if (st) {
        // The canary's own window (vs the instances not yet changed) is a second reading of
        // the same config, from other requests: told as well when there was a later stage.
        if (canaryWindow !== res.m && canaryWindow && canaryWindow.requests >= this.config.evaluation.minRequests) st.optimizer.tell(this.observation(effective, canaryWindow));
        st.optimizer.tell(this.observation(effective, res.m));
        st.lastToldKey = st.optimizer.space.key(effective);
        st.toldUntilMs = this.clock();
        if (why.actor !== 'auto') st.humanApproved = true;
      }
      this.keptChanges.push({ previous, applied: effective, timeMs: this.clock() });
      return this.finish('kept', why.reason, why, { ...trial, checks: ['all checks passed'] });
    } finally {
      this.trialRunning = false;
    }
  }

  /**
   * Guardrail checks of an evaluation window against its baseline cohort; returns the failed
   * ones. With latency samples on both sides (≥ 20 each) the latency and error comparisons are
   * statistical (tuner/stats.ts: Mann–Whitney U with the tolerance as margin, a tail-exceedance
   * test at baseline p99 × (1 + tolerance), a two-proportion test on errors); otherwise the
   * plain thresholds.
   */
  private checks(m: WindowMeasurement, base: WindowMeasurement, all: WindowMeasurement, nInstances: number, offset = 1): { failed: string[]; stats?: unknown } {
    const g = this.config.guardrails;
    const failed: string[] = [];
    let stats: unknown;
    if (m.requests < this.config.evaluation.minRequests) failed.push(`inconclusive: ${m.requests} requests < ${this.config.evaluation.minRequests} in the window`);
    if (this.detector.differs(all.ratePerS / nInstances, all.mix)) failed.push(`regime changed mid-trial (${round(all.ratePerS / nInstances)} req/s per instance)`);
    const lat = m.latenciesMs;
    const baseLat = base.latenciesMs && offset !== 1 ? base.latenciesMs.map((v) => v * offset) : base.latenciesMs;
    if (lat && baseLat && lat.length >= 20 && baseLat.length >= 20) {
      // Three tests per stage (bulk, tail, errors): Bonferroni, so α bounds the chance that a
      // change without a regression is rolled back on any of them.
      const c = compareCanary({ latenciesMs: lat, errors: m.errors ?? 0 }, { latenciesMs: baseLat, errors: base.errors ?? 0 }, { tolerance: g.p99Tolerance, errorRateDelta: g.errorRateDelta, alpha: g.alpha / 3 });
      failed.push(...c.failed);
      stats = {
        mannWhitney: { auc: round(c.latency.auc, 4), z: round(c.latency.z, 3), p: c.latency.p, n: [lat.length, baseLat.length] },
        tail: { thresholdMs: round(c.tail.thresholdMs), canaryShare: round(c.tail.p1, 5), baselineShare: round(c.tail.p2, 5), p: c.tail.p },
        errors: { canary: round(c.errors.p1, 5), baseline: round(c.errors.p2, 5), p: c.errors.p },
      };
    } else {
      if (base.requests > 0 && m.requests > 0 && m.p99Ms > base.p99Ms * offset * (1 + g.p99Tolerance)) failed.push(`p99 ${round(m.p99Ms)} ms > baseline ${round(base.p99Ms * offset)} ms × ${1 + g.p99Tolerance}`);
      if (m.errorRate > base.errorRate + g.errorRateDelta) failed.push(`error rate ${round(m.errorRate, 4)} > baseline ${round(base.errorRate, 4)} + ${g.errorRateDelta}`);
    }
    for (const c of this.constraints) {
      const v = (m as unknown as Record<string, number | undefined>)[c.name];
      if (v !== undefined && Number.isFinite(v) && v > c.max) failed.push(`${c.name} ${round(v, 4)} > limit ${c.max}`);
    }
    if (m.p99SecondHalfMs > m.p99FirstHalfMs * g.queueGrowthRatio && m.p99SecondHalfMs > base.p99Ms * offset) {
      // With samples: only when significantly more of the second half's requests lie above the
      // first half's p99 × ratio than of the first half's (a p99 over a few hundred requests
      // jumps by itself); without: the ratio alone.
      const h = m.halvesMs;
      let sig = true;
      let note = '';
      if (h && h[0].length >= 20 && h[1].length >= 20) {
        const thr = m.p99FirstHalfMs * g.queueGrowthRatio;
        const above = (xs: number[]) => xs.filter((v) => v > thr).length;
        const t = twoProportionGreater(above(h[1]), h[1].length, above(h[0]), h[0].length);
        sig = t.p < g.alpha;
        note = ` (${round(t.p1 * 100, 2)} % vs ${round(t.p2 * 100, 2)} % of requests above ${round(thr)} ms, one-sided p = ${t.p.toExponential(2)})`;
      }
      // The same jump in the baseline (the unchanged instances in the same window, or these
      // instances in the window before the change) is the machine or the traffic, not the config.
      const ratioBase = base.p99SecondHalfMs / base.p99FirstHalfMs;
      const envToo = base.requests > 0 && ratioBase > g.queueGrowthRatio && m.p99SecondHalfMs / m.p99FirstHalfMs <= ratioBase * g.queueGrowthRatio;
      if (sig && !envToo) failed.push(`queue growing: p99 ${round(m.p99FirstHalfMs)} → ${round(m.p99SecondHalfMs)} ms within the window${note}`);
    }
    if (m.queueSlopePerS !== undefined && m.queueSlopePerS > 0 && (m.queueDepth ?? 0) > 1) failed.push(`queue depth growing (${round(m.queueSlopePerS, 3)}/s)`);
    return { failed, stats };
  }

  /** Reverts the last kept change on every instance (an operator's rollback). */
  async rollback(actor: string, reason = 'manual rollback'): Promise<TrialOutcome> {
    if (this.trialRunning) throw new TunerConflictError('a trial is running; use the kill switch to stop it');
    const last = this.keptChanges.pop();
    if (!last) throw new TunerConflictError('nothing to roll back');
    const instances = this.deps.applier.instances();
    const current = this.knobsOnly(await this.deps.applier.read(instances[0]));
    const applied = await this.applyAll(instances, last.previous);
    this.markChange(settleAfterChange(this.config.knobs, current, last.previous, this.config.evaluation.settleMs));
    const rec = this.record({ kind: 'rollback', actor, reason, previous: current, requested: last.previous, applied, instances, verdict: 'rolled-back' });
    return { verdict: 'rolled-back', reason, record: rec };
  }

  /** On: stop all changes and revert every instance to the pinned config. Off: resume. */
  async setKillSwitch(on: boolean, actor: string, reason = on ? 'kill switch on' : 'kill switch off'): Promise<{ killSwitch: boolean; record: TunerAuditRecord }> {
    this.killSwitch = on;
    if (!on) return { killSwitch: false, record: this.record({ kind: 'kill-switch', actor, reason }) };
    for (const s of this.suggestionsById.values()) if (s.status === 'open') s.status = 'superseded';
    await this.ensurePinned();
    const instances = this.deps.applier.instances();
    const current = this.knobsOnly(await this.deps.applier.read(instances[0]));
    let applied: Record<string, Config> | undefined;
    let note = '';
    try {
      applied = await this.applyAll(instances, this.pinned as Config);
    } catch (e) {
      note = ` (revert failed: ${(e as Error).message})`;
    }
    this.markChange(settleAfterChange(this.config.knobs, current, this.pinned as Config, this.config.evaluation.settleMs));
    return { killSwitch: true, record: this.record({ kind: 'kill-switch', actor, reason: reason + note, previous: current, requested: this.pinned, applied, instances, verdict: 'rolled-back' }) };
  }

  private markChange(settleMs: number): void {
    this.lastChangeMs = this.clock();
    this.lastChangeSettleMs = settleMs;
  }

  // ---------------------------------------------------------------- audit

  private refuse(reason: string, why: { actor?: string; suggestionId?: string }, extra: Partial<TunerAuditRecord> = {}): TrialOutcome {
    const rec = this.record({ kind: 'refused', reason, actor: why.actor, suggestionId: why.suggestionId, verdict: 'refused', ...extra });
    return { verdict: 'refused', reason, record: rec };
  }

  private finish(verdict: TrialVerdict, reason: string, why: { actor?: string; suggestionId?: string; predicted?: unknown; reason: string }, extra: Partial<TunerAuditRecord> & { reverted?: unknown }): TrialOutcome {
    const { reverted, ...rest } = extra;
    const rec = this.record({
      kind: verdict === 'refused' ? 'refused' : 'trial',
      reason: verdict === 'kept' ? why.reason : `${why.reason} → ${reason}`,
      actor: why.actor,
      suggestionId: why.suggestionId,
      predicted: why.predicted,
      verdict,
      ...rest,
      ...(reverted ? { checks: [...(rest.checks ?? []), `reverted to ${JSON.stringify(reverted)}`] } : {}),
    });
    return { verdict, reason, record: rec };
  }

  private record(r: Omit<TunerAuditRecord, 'id' | 'timeMs' | 'service' | 'regime' | 'mode'>): TunerAuditRecord {
    const rec: TunerAuditRecord = {
      id: `a${this.clock().toString(36)}-${++this.seq}`,
      timeMs: this.clock(),
      service: this.config.service,
      regime: this.detector.regime?.key ?? 'unknown',
      mode: this.mode,
      ...r,
    };
    this.deps.audit.append(rec);
    return rec;
  }
}
