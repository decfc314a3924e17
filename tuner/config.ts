// The tuner's configuration (the `tuner:` section of faultline's config): knobs, how to
// read/apply them, the objective and constraints, regimes, evaluation and guardrails.
// parseTunerConfig gives an error naming the field for bad input.

import { z } from 'zod';
import { validateKnobs, type KnobSpec } from './space';

const knobSchema = z.object({
  name: z.string().min(1),
  type: z.enum(['int', 'float', 'choice']),
  min: z.number().optional(),
  max: z.number().optional(),
  choices: z.array(z.string()).optional(),
  log: z.boolean().optional(),
  maxStep: z.number().positive().optional(),
  default: z.union([z.number(), z.string()]),
  /**
   * How long after this knob changes its effect takes to show (a resized cache filling), in
   * ms: a trial waits the longest of these and evaluation.settleMs before its window.
   */
  settleMs: z.number().min(0).optional(),
  /**
   * The knob is a time-to-live in units of this many ms (1 for ms, 1000 for s): entries written
   * under the old value live on for it, so a change shows fully only after max(old, new) of it,
   * which the trial waits for (capped by maxSettleMs).
   */
  ttlUnitMs: z.number().positive().optional(),
  /** Cap of the TTL-derived wait (default 10 min). */
  maxSettleMs: z.number().positive().optional(),
});

const applierSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('http'),
    /** One entry per instance; the first is the canary. */
    targets: z.array(z.object({ instance: z.string().min(1), url: z.string().url() })).min(1),
    timeoutMs: z.number().positive().default(5000),
  }),
  z.object({
    kind: z.literal('file'),
    instance: z.string().min(1),
    file: z.string().min(1),
    format: z.enum(['json', 'yaml']).default('json'),
    pid: z.number().int().positive().optional(),
    pidFile: z.string().optional(),
    signal: z.string().default('SIGHUP'),
  }),
  z.object({
    kind: z.literal('command'),
    instance: z.string().min(1),
    readCommand: z.array(z.string()).min(1),
    applyCommand: z.array(z.string()).min(1),
    timeoutMs: z.number().positive().default(10_000),
  }),
]);

const metricName = z.enum(['p99Ms', 'p50Ms', 'meanMs', 'errorRate', 'utilisation', 'queueSlopePerS']);

export const tunerConfigSchema = z.object({
  /** service.name in telemetry. */
  service: z.string().min(1),
  mode: z.enum(['observe', 'approve', 'auto']).default('observe'),
  knobs: z.array(knobSchema).min(1),
  applier: applierSchema,
  objective: z
    .object({
      metric: z.enum(['p99Ms', 'p50Ms', 'meanMs']).default('p99Ms'),
      /** Cost term: Σ weight × knob value, added to the metric (ms-equivalent). */
      costTerms: z.array(z.object({ knob: z.string(), weight: z.number() })).default([]),
      constraints: z.array(z.object({ metric: metricName, max: z.number() })).default([{ metric: 'errorRate', max: 0.01 }]),
    })
    .default({ metric: 'p99Ms', costTerms: [], constraints: [{ metric: 'errorRate', max: 0.01 }] }),
  telemetry: z.object({ utilisationMetric: z.string().optional(), queueMetric: z.string().optional() }).default({}),
  regimes: z
    .object({
      bucketsPerDecade: z.number().positive().default(4),
      hysteresis: z.number().min(0).max(1).default(0.25),
      minDwellMs: z.number().min(0).default(300_000),
      mixBy: z.enum(['operation', 'none']).default('none'),
    })
    .default({ bucketsPerDecade: 4, hysteresis: 0.25, minDwellMs: 300_000, mixBy: 'none' }),
  evaluation: z
    .object({
      /** Window per trial stage; choose ≥ 5–10× the queue time constant, ≥ 10⁴ requests for a steady p99. */
      windowMs: z.number().positive().default(120_000),
      minRequests: z.number().int().min(1).default(1000),
      /** Wait after applying before the window starts (reloads, warm-up). */
      settleMs: z.number().min(0).default(5000),
    })
    .default({ windowMs: 120_000, minRequests: 1000, settleMs: 5000 }),
  guardrails: z
    .object({
      /** Roll back when the trial's p99 exceeds the baseline's by this fraction. */
      p99Tolerance: z.number().positive().default(0.2),
      /** Roll back when the error rate rises by more than this (absolute). */
      errorRateDelta: z.number().positive().default(0.005),
      /** Queue growth: second-half p99 over first-half p99 beyond this, or a positive queue slope. */
      queueGrowthRatio: z.number().positive().default(1.5),
      /** Auto mode applies only inside these per-knob ranges; a knob without a range is left as it is. */
      approvedRanges: z.record(z.string(), z.object({ min: z.number().optional(), max: z.number().optional(), choices: z.array(z.string()).optional() })).default({}),
      /** Minimum time between changes. */
      minIntervalMs: z.number().min(0).default(60_000),
      /** Config the kill switch reverts to; the config found at start when absent. */
      pinned: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
      /** Significance level of the canary's statistical tests (Mann–Whitney U, tail and error proportions). */
      alpha: z.number().positive().max(0.5).default(0.05),
      /**
       * Staged rollout after the canary: cumulative shares of the instances, each stage applied
       * only after the previous one passed its checks against the instances not yet changed
       * (e.g. [0.25, 0.5, 1]). The last stage must be 1.
       */
      stages: z
        .array(z.number().positive().max(1))
        .min(1)
        .refine((xs) => xs.every((x, i) => i === 0 || x > xs[i - 1]) && xs[xs.length - 1] === 1, 'stages must be increasing and end at 1')
        .default([1]),
      /** In auto mode the first change in each regime waits for a human approval. */
      firstChangeApproval: z.boolean().default(true),
      /**
       * Analytic utilisation pre-check before applying: ρ = λ·s/c with λ the measured request
       * rate per instance, s the service time per request (serviceTimeMs, or perBatchMs/b +
       * perItemMs with b the batchKnob's value: full batches, the best case), c the
       * concurrencyKnob's value or concurrency (1). ρ ≥ max rejects the candidate unapplied.
       */
      utilisationPrecheck: z
        .object({
          max: z.number().positive().default(0.85),
          serviceTimeMs: z.number().positive().optional(),
          batchKnob: z.string().optional(),
          perBatchMs: z.number().min(0).default(0),
          perItemMs: z.number().min(0).default(0),
          concurrencyKnob: z.string().optional(),
          concurrency: z.number().positive().default(1),
        })
        .refine((p) => p.serviceTimeMs !== undefined || p.batchKnob !== undefined, 'needs serviceTimeMs or batchKnob (with perBatchMs/perItemMs)')
        .optional(),
    })
    .default({ p99Tolerance: 0.2, errorRateDelta: 0.005, queueGrowthRatio: 1.5, approvedRanges: {}, minIntervalMs: 60_000, alpha: 0.05, stages: [1], firstChangeApproval: true }),
  /** Loop period when running continuously. */
  intervalMs: z.number().positive().default(60_000),
  seed: z.number().int().default(1),
});

export type TunerConfig = z.infer<typeof tunerConfigSchema>;
export type TunerConfigInput = z.input<typeof tunerConfigSchema>;

export class TunerConfigError extends Error {}

export function parseTunerConfig(raw: unknown): TunerConfig {
  const r = tunerConfigSchema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `tuner.${i.path.join('.')}: ${i.message}`).join('; ');
    throw new TunerConfigError(msg);
  }
  try {
    validateKnobs(r.data.knobs as KnobSpec[]);
  } catch (e) {
    throw new TunerConfigError(`tuner.knobs: ${(e as Error).message}`);
  }
  const names = new Set(r.data.knobs.map((k) => k.name));
  for (const t of r.data.objective.costTerms) if (!names.has(t.knob)) throw new TunerConfigError(`tuner.objective.costTerms: unknown knob ${t.knob}`);
  for (const k of Object.keys(r.data.guardrails.approvedRanges)) if (!names.has(k)) throw new TunerConfigError(`tuner.guardrails.approvedRanges: unknown knob ${k}`);
  const pre = r.data.guardrails.utilisationPrecheck;
  for (const k of [pre?.batchKnob, pre?.concurrencyKnob]) if (k !== undefined && !names.has(k)) throw new TunerConfigError(`tuner.guardrails.utilisationPrecheck: unknown knob ${k}`);
  for (const c of r.data.objective.constraints) {
    if (c.metric === 'utilisation' && !r.data.telemetry.utilisationMetric) throw new TunerConfigError('tuner.objective.constraints: utilisation needs tuner.telemetry.utilisationMetric');
    if (c.metric === 'queueSlopePerS' && !r.data.telemetry.queueMetric) throw new TunerConfigError('tuner.objective.constraints: queueSlopePerS needs tuner.telemetry.queueMetric');
  }
  return r.data;
}
