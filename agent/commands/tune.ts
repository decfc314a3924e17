// `faultline tune simulate`: the offline benchmark of the tuner on simulated services with
// known optima. `faultline tune run`: the tuning loop against a live target's admin endpoint,
// measuring with its own open-loop probes (the probe rate is the load regime).

import * as fs from 'node:fs';
import * as readline from 'node:readline/promises';
import { InvalidArgumentError, type Command } from 'commander';
import YAML from 'yaml';
import { CliError } from '../cli';

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer (got "${v}")`);
    return n;
  };
}

function positiveNumber(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0)) throw new InvalidArgumentError(`${flag} must be a positive number (got "${v}")`);
    return n;
  };
}

export function register(program: Command): void {
  const tune = program.command('tune').description('adaptive configuration tuning per load regime (constrained Bayesian optimisation)');

  tune
    .command('simulate')
    .description('benchmark the tuner on simulated services with known optima per load regime')
    .option('--seeds <n>', 'seeds per scenario and regime', positiveInt('--seeds'), 20)
    .option('--trials <n>', 'trial budget per regime and seed', positiveInt('--trials'), 20)
    .option('--readings <n>', 'readings told per trial (the service tells 2: canary and fleet windows)', positiveInt('--readings'), 1)
    .option('--first-seed <n>', 'first seed', positiveInt('--first-seed'), 1)
    .option('--scenario <name...>', 'only these scenarios (batched-inference, cache-backed)')
    .option('--json', 'one JSON line per scenario and regime: {scenario, regime, seeds, withinFivePercent, medianTrialsToFivePercent, unsafeTrials, randomSearchUnsafeTrials}')
    .action((opts: { seeds: number; trials: number; readings: number; firstSeed: number; scenario?: string[]; json?: boolean }) => {
      const bench = require('../../tuner/sim/benchmark') as typeof import('../../tuner/sim/benchmark');
      const known = bench.SIM_SCENARIOS.map((s) => s.name);
      for (const s of opts.scenario ?? []) if (!known.includes(s)) throw new CliError(`unknown scenario "${s}" (known: ${known.join(', ')})`);
      const t0 = Date.now();
      if (!opts.json) {
        process.stdout.write(`${'scenario'.padEnd(18)} ${'regime'.padEnd(16)} seeds  within5%  medianTrials  unsafe  random-unsafe  final/opt  optimum\n`);
      }
      bench.simulate({ seeds: opts.seeds, trials: opts.trials, readingsPerTrial: opts.readings, firstSeed: opts.firstSeed, scenarios: opts.scenario }, (r) => {
        if (opts.json) process.stdout.write(bench.toJsonLine(r) + '\n');
        else {
          const opt = Object.entries(r.optimum.config)
            .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : v}`)
            .join(' ');
          process.stdout.write(
            `${r.scenario.padEnd(18)} ${r.regime.padEnd(16)} ${String(r.seeds).padStart(5)}  ${(r.withinFivePercent * 100).toFixed(0).padStart(7)}%  ${String(r.medianTrialsToFivePercent ?? '-').padStart(12)}  ${r.unsafeTrials.toFixed(2).padStart(6)}  ${r.randomSearchUnsafeTrials.toFixed(2).padStart(13)}  ${r.medianFinalRatio.toFixed(3).padStart(9)}  ${opt} (f*=${r.optimum.objective.toFixed(2)}, default ${r.defaultObjective.toFixed(2)})\n`,
          );
        }
      });
      if (!opts.json) process.stdout.write(`(${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    });

  tune
    .command('run')
    .description("run the tuning loop against a target's admin endpoint (GET/PUT /admin/knobs), measuring with its own probes")
    .option('--config <file>', 'YAML/JSON file with the tuner section (knobs, objective, guardrails); without it the knobs are read from the target\'s described /admin/knobs')
    .option('--knob <name...>', 'without --config: tune only these knobs')
    .option('--service <name>', 'without --config: the service name used in the audit', 'target')
    .option('--window-ms <n>', 'without --config: evaluation window per trial stage', positiveInt('--window-ms'), 30_000)
    .option('--target <admin-url...>', 'base URL(s) of the instance admin endpoints (overrides the config applier; first = canary)')
    .option('--probe-url <url...>', 'URL(s) to probe, one per target (default: <target>/)')
    .option('--probe-body <json>', 'POST this JSON body to the probe URL (GET when absent)')
    .option('--probe-rps <n>', 'probe requests per second per target (this is the load)', positiveNumber('--probe-rps'), 50)
    .option('--mode <mode>', 'observe | approve | auto (overrides the config)')
    .option('--iterations <n>', 'loop iterations (default: until interrupted)', positiveInt('--iterations'))
    .option('--audit <file>', 'JSONL audit file', 'faultline-tuner-audit.jsonl')
    .option('--json', 'one JSON line per iteration')
    .action(async (opts: RunOptions) => {
      await runLoop(opts);
    });
}

interface RunOptions {
  config?: string;
  knob?: string[];
  service: string;
  windowMs: number;
  target?: string[];
  probeUrl?: string[];
  probeRps: number;
  probeBody?: string;
  mode?: string;
  iterations?: number;
  audit: string;
  json?: boolean;
}

async function runLoop(opts: RunOptions): Promise<void> {
  const { parseTunerConfig, TunerConfigError } = require('../../tuner/config') as typeof import('../../tuner/config');
  const { TunerService, createApplier } = require('../../tuner/service') as typeof import('../../tuner/service');
  const { JsonlAuditSink } = require('../../tuner/audit') as typeof import('../../tuner/audit');
  const { Prober } = require('../../tuner/probe') as typeof import('../../tuner/probe');
  const { TelemetryStore } = require('../store/telemetry-store') as typeof import('../store/telemetry-store');
  let section: unknown;
  const source = opts.config ?? '--target';
  if (opts.config) {
    let raw: unknown;
    try {
      raw = YAML.parse(fs.readFileSync(opts.config, 'utf8')) as unknown;
    } catch (e) {
      throw new CliError(`${opts.config}: ${(e as Error).message}`);
    }
    section = raw && typeof raw === 'object' && 'tuner' in raw ? (raw as { tuner: unknown }).tuner : raw;
  } else {
    if (!opts.target) throw new CliError('give --config, or --target with an admin endpoint that describes its knobs');
    const { discoverKnobSpecs } = require('../../tuner/appliers') as typeof import('../../tuner/appliers');
    let knobs;
    try {
      knobs = await discoverKnobSpecs(opts.target[0], opts.knob);
    } catch (e) {
      throw new CliError(`${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`);
    }
    section = {
      service: opts.service,
      knobs,
      applier: { kind: 'http', targets: [{ instance: 'target-0', url: opts.target[0] }] },
      regimes: { minDwellMs: 0 },
      evaluation: { windowMs: opts.windowMs, minRequests: Math.max(10, Math.round((opts.probeRps * opts.windowMs) / 1000 / 4)), settleMs: 1000 },
      guardrails: { minIntervalMs: 0 },
    };
  }
  if (opts.mode && !['observe', 'approve', 'auto'].includes(opts.mode)) throw new CliError(`--mode must be observe, approve or auto (got "${opts.mode}")`);
  const patched = { ...(section as object) } as Record<string, unknown>;
  if (opts.mode) patched.mode = opts.mode;
  if (opts.target) patched.applier = { kind: 'http', targets: opts.target.map((url, i) => ({ instance: `target-${i}`, url })) };
  let config;
  try {
    config = parseTunerConfig(patched);
  } catch (e) {
    if (e instanceof TunerConfigError) throw new CliError(`${source}: ${e.message}`);
    throw e;
  }
  if (config.applier.kind !== 'http') throw new CliError('tune run probes HTTP targets: give --target or an http applier in the config');
  const targets = config.applier.targets;
  const probeUrls = opts.probeUrl ?? targets.map((t) => t.url.replace(/\/+$/, '') + '/');
  if (probeUrls.length !== targets.length) throw new CliError(`--probe-url: give one per target (${targets.length})`);
  if (opts.probeBody) {
    try {
      JSON.parse(opts.probeBody);
    } catch (e) {
      throw new CliError(`--probe-body is not JSON: ${(e as Error).message}`);
    }
  }
  const store = new TelemetryStore({ windowMs: Math.max(10 * 60_000, 4 * config.evaluation.windowMs) });
  const prober = new Prober({ service: config.service, targets: targets.map((t, i) => ({ instance: t.instance, url: probeUrls[i] })), ratePerS: opts.probeRps, method: opts.probeBody ? 'POST' : 'GET', body: opts.probeBody }, store);
  const audit = new JsonlAuditSink(opts.audit);
  const tuner = new TunerService({ config, telemetry: store, applier: createApplier(config.applier), audit });
  const rl = config.mode !== 'observe' && process.stdin.isTTY ? readline.createInterface({ input: process.stdin, output: process.stderr }) : undefined;
  let stopping = false;
  const onSig = () => {
    stopping = true;
  };
  process.once('SIGINT', onSig);
  prober.start();
  try {
    for (let i = 0; !stopping && (opts.iterations === undefined || i < opts.iterations); i++) {
      await new Promise((r) => setTimeout(r, config.evaluation.windowMs));
      if (stopping) break;
      let step: Awaited<ReturnType<typeof tuner.tick>>;
      try {
        step = await tuner.tick();
      } catch (e) {
        // A target that is down for a moment must not end the loop; the next tick retries.
        process.stderr.write(`faultline: iteration ${i + 1}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}\n`);
        continue;
      }
      let trial = step.trial;
      // Approve mode asks for every change; auto mode only for the first change of a regime
      // (or one outside the approved envelope), which it may not make alone.
      const needsHuman = config.mode === 'approve' || (config.mode === 'auto' && step.suggestion?.reasons.some((r) => /needs (a human )?approval/.test(r)));
      if (!trial && step.suggestion && needsHuman && rl) {
        process.stderr.write(`suggestion ${step.suggestion.id}:\n  ${step.suggestion.reasons.join('\n  ')}\n`);
        const answer = await rl.question('apply it as a guarded trial? [y/N] ');
        if (/^y(es)?$/i.test(answer.trim())) trial = await tuner.approve(step.suggestion.id, 'cli');
      }
      const line = { iteration: i + 1, regime: step.regime, note: step.note, suggestion: step.suggestion && { id: step.suggestion.id, config: step.suggestion.config, reasons: step.suggestion.reasons }, trial: trial && { verdict: trial.verdict, reason: trial.reason, applied: trial.record.applied, after: trial.record.after } };
      if (opts.json) process.stdout.write(JSON.stringify(line) + '\n');
      else {
        process.stdout.write(`[${i + 1}] regime ${step.regime ?? '-'}${step.note ? ` (${step.note})` : ''}\n`);
        if (step.suggestion) process.stdout.write(`    suggestion ${step.suggestion.id}: ${step.suggestion.reasons.join('; ')}\n`);
        if (trial) process.stdout.write(`    trial ${trial.verdict}: ${trial.reason}; in effect ${JSON.stringify(trial.record.applied)}\n`);
      }
    }
  } finally {
    process.off('SIGINT', onSig);
    rl?.close();
    await prober.stop();
    audit.close();
  }
  const best = tuner.currentRegime().best;
  if (!opts.json && best) process.stdout.write(`best known for ${tuner.currentRegime().regime}: ${JSON.stringify(best.config)} (predicted ${best.predictedObjective})\n`);
}
