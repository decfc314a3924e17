// The live detection loop: every intervalMs, look at the last windowMs of the store for a
// change in behaviour; when there is one not diagnosed yet, diagnose it, persist the
// anomaly and the diagnosis, publish both, and (autoRecord) keep the window as an incident
// folder so it can be replayed later.
//
// "Now" is the newest telemetry time the store holds, not the wall clock, so the same loop
// works on live traffic and on a store fed from a recording.

import path from 'node:path';
import { detectAnomaly, diagnose } from '../../analyzers/index';
import type { Component, ComponentHealth } from '../../model/component';
import type { TelemetryReader } from '../../model/store';
import { recordIncident } from '../incident/record';
import { incidentsDir, INCIDENTS_SUBDIR, type AnomalyRecord, type StateStore } from '../state/index';
import type { EventBus } from './events';
import { newId } from './ids';

export { EventBus } from './events';
export type { FaultlineEvents, FaultlineEventName } from './events';

export interface WatchConfig {
  /** How often to look, ms (default 5000). */
  intervalMs: number;
  /** How much recent telemetry each look covers, ms (default 600000). */
  windowMs: number;
  /**
   * A change within cooldownMs (data time) of the last diagnosed change is the same
   * incident and is not diagnosed again (default 300000).
   */
  cooldownMs: number;
  /** Record each diagnosed window as an incident folder under <dataDir>/incidents/. */
  autoRecord: boolean;
}

export const DEFAULT_WATCH_CONFIG: WatchConfig = { intervalMs: 5000, windowMs: 10 * 60_000, cooldownMs: 5 * 60_000, autoRecord: true };

export interface WatcherDeps {
  store: TelemetryReader;
  state: StateStore;
  events: EventBus;
  dataDir: string;
  config: WatchConfig;
}

export interface Watcher extends Component {
  /** One look now (what the timer runs); resolves with the anomaly recorded, if any. Tests call it directly. */
  tick(): Promise<AnomalyRecord | undefined>;
}

export function createWatcher(deps: WatcherDeps): Watcher {
  const { store, state, events, dataDir } = deps;
  const config = { ...DEFAULT_WATCH_CONFIG, ...deps.config };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;
  let lastSeenNewestMs: number | undefined;
  let lastSeenCount = -1;
  // Survive restarts: the last diagnosed change is in the state.
  let lastDiagnosedChangeAtMs: number | undefined = (() => {
    const a = state.latestAnomaly();
    return a ? (a.changeAtMs ?? a.window.toMs) : undefined;
  })();
  let health: ComponentHealth = { component: 'watcher', status: 'disabled', message: 'not started' };

  async function tick(): Promise<AnomalyRecord | undefined> {
    const stats = store.stats();
    const range = store.timeRange();
    if (!range) return undefined;
    // Cheap when nothing changed: no new telemetry since the last look, nothing to do.
    const count = stats.spans + stats.evictedSpans + stats.metricPoints + stats.evictedMetricPoints;
    if (range.toMs === lastSeenNewestMs && count === lastSeenCount) return undefined;
    lastSeenNewestMs = range.toMs;
    lastSeenCount = count;

    const toMs = range.toMs + 1;
    const fromMs = Math.max(range.fromMs, toMs - config.windowMs);
    const snapshot = store.snapshot(fromMs, toMs);
    if (snapshot.spans.length === 0 && snapshot.metrics.length === 0) return undefined;
    const report = detectAnomaly(snapshot);
    if (!report.detected) return undefined;
    const changeAtMs = report.changeAtMs;
    // A change with no time given counts as happening at the window's end.
    const changeKey = changeAtMs ?? toMs;
    if (lastDiagnosedChangeAtMs !== undefined && Math.abs(changeKey - lastDiagnosedChangeAtMs) < config.cooldownMs) {
      return undefined; // the same incident, already diagnosed
    }

    const diagnosis = diagnose(snapshot, { id: newId('dg'), nowMs: Date.now() });
    const anomaly: AnomalyRecord = { id: newId('an'), detectedAtMs: Date.now(), window: { fromMs, toMs }, report, diagnosisId: diagnosis.id };
    if (changeAtMs !== undefined) anomaly.changeAtMs = changeAtMs;
    state.saveDiagnosis(diagnosis, 'watch');
    state.saveAnomaly(anomaly);
    lastDiagnosedChangeAtMs = changeKey;
    events.emit('anomaly', anomaly);
    events.emit('diagnosis', { diagnosis, source: 'watch' });

    if (config.autoRecord) {
      const id = `auto-${new Date(changeAtMs ?? toMs).toISOString().replace(/[:.]/g, '-')}-${diagnosis.id.slice(-6)}`;
      const top = diagnosis.causes[0];
      await recordIncident(store, fromMs, toMs, path.join(incidentsDir(dataDir), id), {
        id,
        description: `auto-recorded by the watcher: ${diagnosis.summary}`,
      });
      state.saveIncident({
        id,
        createdAtMs: Date.now(),
        window: { fromMs, toMs },
        dir: path.posix.join(INCIDENTS_SUBDIR, id),
        source: 'watch',
        description: top ? `suspected ${top.kind} at ${top.service}` : diagnosis.summary,
        diagnosisId: diagnosis.id,
      });
    }
    return anomaly;
  }

  async function loop(): Promise<void> {
    if (stopped) return;
    const p = tick().then(
      () => {
        health = { component: 'watcher', status: 'ok', sinceMs: health.status === 'ok' ? health.sinceMs : Date.now() };
      },
      (err: Error) => {
        // One bad look degrades the watcher, it does not stop it.
        health = { component: 'watcher', status: 'degraded', message: `last look failed: ${err.message}`, sinceMs: Date.now() };
      },
    );
    running = p;
    await p;
    running = undefined;
    if (!stopped) timer = setTimeout(() => void loop(), config.intervalMs);
  }

  return {
    tick,
    async start() {
      if (!stopped) return;
      stopped = false;
      health = { component: 'watcher', status: 'ok', sinceMs: Date.now() };
      timer = setTimeout(() => void loop(), config.intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (running) await running;
      health = { component: 'watcher', status: 'disabled', message: 'stopped' };
    },
    health: () => [health],
  };
}
