// Replays the live watcher (agent/watch) offline over a recorded incident folder: telemetry is
// fed into a fresh TelemetryStore in the order it would have arrived (agent/watch/arrival.ts), the watcher looks every --interval-ms of data time, and each look's outcome is
// printed (quiet, recovery, waiting-for-data, diagnosed, …) with its strength and strongest
// signals. For "why did the watcher stay silent on that fault?": record the run with
// FAULTLINE_E2E_KEEP=1 (incidents/whole-run in the kept data dir) and give the e2e's
// test-artifacts/demo-e2e.json to label each look with the scenario and seconds since its
// injection.
//
//   npx tsx bench/watch-replay.ts <incident dir> [--injections test-artifacts/demo-e2e.json]
//        [--window-ms 30000] [--interval-ms 2000] [--cooldown-ms 15000]   (the demo's detection settings)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadIncident } from '../agent/incident/reader';
import { openStateStore } from '../agent/state/index';
import { TelemetryStore } from '../agent/store/telemetry-store';
import { arrivalSteps } from '../agent/watch/arrival';
import { createWatcher, EventBus } from '../agent/watch/index';

async function main(): Promise<void> {
  const { values: args, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      injections: { type: 'string' },
      'window-ms': { type: 'string', default: '30000' },
      'interval-ms': { type: 'string', default: '2000' },
      'cooldown-ms': { type: 'string', default: '15000' },
    },
  });
  if (positionals.length !== 1) throw new Error('usage: watch-replay <incident dir> [--injections demo-e2e.json] [--window-ms N] [--interval-ms N] [--cooldown-ms N]');
  const injections: Array<{ scenario: string; atMs: number }> = args.injections ? JSON.parse(fs.readFileSync(args.injections, 'utf8')).injections ?? [] : [];
  const intervalMs = Number(args['interval-ms']);
  // The truth is not needed and not read: this is the detector's view only.
  const { snapshot } = await loadIncident(positionals[0], { withoutTruth: true });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-watch-replay-'));
  const state = openStateStore(stateDir);
  try {
    const store = new TelemetryStore({ windowMs: 15 * 60_000 });
    const watcher = createWatcher({
      store,
      state,
      events: new EventBus(),
      dataDir: stateDir,
      config: { intervalMs, windowMs: Number(args['window-ms']), cooldownMs: Number(args['cooldown-ms']), autoRecord: false },
    });
    if (snapshot.spans.length + snapshot.metrics.length === 0) throw new Error(`${positionals[0]}: no telemetry`);
    const label = (t: number): string => {
      const last = injections.filter((x) => x.atMs <= t).pop();
      return last ? `${last.scenario}+${((t - last.atMs) / 1000).toFixed(1)}s` : new Date(t).toISOString().slice(11, 21);
    };
    for (const { nowMs: now, spans, metrics } of arrivalSteps(snapshot.spans, snapshot.metrics, intervalMs)) {
      if (spans.length) store.consumeSpans(spans);
      if (metrics.length) store.consumeMetrics(metrics);
      const anomaly = await watcher.tick();
      const look = watcher.lastLook();
      if (!look || look.outcome === 'no-new-data' || look.outcome === 'too-short') continue;
      const signals = (look.signals ?? []).map((s) => `${s.service}${s.operation ? ` ${s.operation}` : ''} ${s.signal} ${s.before.toFixed(2)}→${s.after.toFixed(2)} (${s.score.toFixed(1)})`);
      // What was published: the diagnosis dates the change itself, so show its date too.
      const published = anomaly?.diagnosisId ? state.getDiagnosis(anomaly.diagnosisId) : undefined;
      if (published) signals.push(`published: ${published.summary} (change at ${published.anomaly.changeAtMs !== undefined ? label(published.anomaly.changeAtMs) : '-'})`);
      process.stdout.write(
        `${label(now).padEnd(30)} ${look.outcome.padEnd(19)} strength ${look.strength !== undefined ? look.strength.toFixed(1).padStart(5) : '    -'}` +
          `${look.changeAtMs !== undefined ? `  change at ${label(look.changeAtMs)}` : ''}${anomaly ? `  DIAGNOSED ${anomaly.id}` : ''}${signals.length ? `\n${' '.repeat(31)}${signals.join('; ')}` : ''}\n`,
      );
    }
  } finally {
    state.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`watch-replay: ${e.message}\n`);
  process.exitCode = 1;
});
