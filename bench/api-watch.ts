// Costs of the live loop and the API on a recorded incident (fixtures/incidents/sim-cpu-ranker):
// a watcher look when nothing arrived, a look that runs detection, POST /api/v1/diagnoses,
// GET /api/v1/graph. Run: npx tsx bench/api-watch.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiServer } from '../agent/http/server';
import { loadIncident } from '../agent/incident/reader';
import { SelfMetrics } from '../agent/self-metrics';
import { openStateStore } from '../agent/state/index';
import { TelemetryStore } from '../agent/store/telemetry-store';
import { EventBus } from '../agent/watch/events';
import { createWatcher } from '../agent/watch/index';
import { detectAnomaly } from '../analyzers/index';

async function timeIt(label: string, n: number, fn: () => unknown | Promise<unknown>): Promise<void> {
  for (let i = 0; i < Math.min(5, n); i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  console.log(`${label.padEnd(44)} ${us < 1000 ? us.toFixed(1) + ' µs' : (us / 1000).toFixed(2) + ' ms'} per call (n=${n})`);
}

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-'));
  const { snapshot } = await loadIncident(path.join(__dirname, '..', 'fixtures', 'incidents', 'sim-cpu-ranker'));
  const store = new TelemetryStore({ windowMs: Infinity });
  store.consumeSpans(snapshot.spans);
  store.consumeMetrics(snapshot.metrics);
  console.log(`store: ${snapshot.spans.length} spans, ${snapshot.metrics.length} metric points`);
  const state = openStateStore(dir);
  const events = new EventBus();
  const watcher = createWatcher({ store, state, events, dataDir: dir, config: { intervalMs: 5000, windowMs: 600_000, cooldownMs: 300_000, autoRecord: false } });
  await watcher.tick();
  await timeIt('watcher look, no new telemetry', 10_000, () => watcher.tick());
  const range = store.timeRange()!;
  await timeIt('detectAnomaly on the 10-min window', 200, () => detectAnomaly(store.snapshot(range.toMs - 600_000, range.toMs + 1)));
  const app = await createApiServer({ store, state, events, metrics: new SelfMetrics({ defaultMetrics: false }), health: () => [], config: { bodyLimitBytes: 1 << 20, dataDir: dir } });
  await timeIt('POST /api/v1/diagnoses (diagnose + fsync)', 50, () => app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 } }));
  await timeIt('GET /api/v1/graph?lastMinutes=5', 200, () => app.inject('/api/v1/graph?lastMinutes=5'));
  await timeIt('GET /api/v1/diagnoses?limit=20', 500, () => app.inject('/api/v1/diagnoses?limit=20'));
  await app.close();
  state.close();
  fs.rmSync(dir, { recursive: true, force: true });
})();
