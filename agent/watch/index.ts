// The live detection loop: every intervalMs, look at the last windowMs of the store for a
// change in behaviour; when there is one not diagnosed yet, diagnose it, persist the
// anomaly and the diagnosis, publish both, and (autoRecord) keep the diagnosed window as an
// incident folder so it can be replayed later.
//
// A look costs O(operations x buckets), not O(spans): the store keeps running per-operation
// bucketed sums of entry spans on ingest (agent/store/operation-aggregates.ts) and detection
// runs on those (analyzers/detect.ts detectAnomalyInSeries). Span objects are materialized
// only to diagnose a detected change, once per change, from a trace sample of at most
// maxDiagnosisSpans spans.
//
// After a change (diagnosed, or a recovery) the next look starts a little after it: "normal"
// for a new change is the behaviour since the last one, so a second fault while the first
// is still in the window is found against it, and a recovery does not hide the next fault.
//
// "Now" is the newest telemetry time the store holds, not the wall clock, so the same loop
// works on live traffic and on a store fed from a recording.

import path from 'node:path';
import { diagnose } from '../../analyzers/index';
import { bucketWidth, detectAnomalyInSeries, detectChangeInSeries, type ChangeDetection } from '../../analyzers/detect';
import type { Component, ComponentHealth } from '../../model/component';
import { noteSampled, type AnomalyReport } from '../../model/diagnosis';
import type { TelemetryReader } from '../../model/store';
import { writeIncident } from '../incident/writer';
import { incidentsDir, INCIDENTS_SUBDIR, type AnomalyRecord, type StateStore } from '../state/index';
import type { OperationAggregates } from '../store/operation-aggregates';
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
   * A change within cooldownMs (data time) of the last diagnosed change, moving the same
   * signals the same way (sameIncident), is the same incident and is not diagnosed again
   * (default 300000).
   */
  cooldownMs: number;
  /** Record each diagnosed window as an incident folder under <dataDir>/incidents/. */
  autoRecord: boolean;
  /**
   * A change must have lasted this long (data time) before it counts, so a blip (a GC pause,
   * a burst on a shared machine) is not an incident. Default: 3 buckets of the window
   * (the window has ~60 buckets, so 3 s for a 1-minute window, 30 s for 10 minutes).
   */
  minChangeMs?: number;
  /** Judge latency shifts against the bucket-to-bucket spread too (analyzers/detect.ts); default true. */
  bucketVariance?: boolean;
  /**
   * A detected change is diagnosed once this much data (data time) follows it, so the
   * localization has the changed behaviour to compare. Default: 5 buckets (5 s for a
   * 1-minute window, 50 s for 10 minutes).
   */
  diagnoseAfterMs?: number;
  /** At most this many spans are materialized to diagnose a change (whole traces sampled). Default 100000 (serve passes detection.maxDiagnosisSpans, 200000). */
  maxDiagnosisSpans?: number;
}

export const DEFAULT_WATCH_CONFIG: WatchConfig = { intervalMs: 5000, windowMs: 10 * 60_000, cooldownMs: 5 * 60_000, autoRecord: true };

/** What the watcher needs of the store: the reader (bounded snapshots included) plus running aggregates (TelemetryStore). */
export interface WatchedStore extends TelemetryReader {
  operationAggregates(bucketMs: number, horizonMs: number): OperationAggregates;
}

export interface WatcherDeps {
  store: WatchedStore;
  state: StateStore;
  events: EventBus;
  dataDir: string;
  config: WatchConfig;
}

export interface Watcher extends Component {
  /** One look now (what the timer runs); resolves with the anomaly recorded, if any. Tests call it directly. */
  tick(): Promise<AnomalyRecord | undefined>;
  /** What the last look decided, for tests and the soak (no span data). */
  lastLook(): LookSummary | undefined;
}

export interface LookSummary {
  atMs: number;
  window?: { fromMs: number; toMs: number };
  series: number;
  outcome: 'no-new-data' | 'too-short' | 'quiet' | 'recovery' | 'unsettled' | 'same-incident' | 'waiting-for-data' | 'waiting-for-metrics' | 'diagnosed';
  changeAtMs?: number;
  strength?: number;
  /** The strongest signals of the change found (up to 3). */
  signals?: AnomalyReport['signals'];
  lookMs: number;
  diagnosisSpans?: number;
}

/**
 * How much of a change is things getting worse: its latency-up and error-up signals
 * weighted as the detector weights them (the strongest in full, the others half). The
 * detector's strength also counts things getting better (a fault ending), which is not an
 * incident. Metric-only changes carry no signals: Infinity (they count as worse).
 */
export function worseningStrength(report: Pick<AnomalyReport, 'signals'>): number {
  const sli = report.signals.filter((s) => s.signal === 'latency' || s.signal === 'errors');
  if (sli.length === 0) return Infinity;
  // Where an operation's errors fell, its successful requests now include the ones that used
  // to fail (often the slow ones: timeouts), so their latency rising is not a slowdown.
  const op = (s: Signal) => `${s.service}\u0000${s.operation ?? ''}`;
  const fewerErrors = new Set(sli.filter((s) => s.signal === 'errors' && s.after < s.before).map(op));
  const worse = sli.filter((s) => s.after > s.before && !(s.signal === 'latency' && fewerErrors.has(op(s)))).map((s) => s.score);
  if (worse.length === 0) return 0;
  const best = Math.max(...worse);
  return best + 0.5 * (worse.reduce((a, b) => a + b, 0) - best);
}

/** How long a diagnosis may wait for every instance's metrics to pass the change. */
const MAX_METRIC_WAIT_BUCKETS = 10;

/** The detector's threshold (analyzers/detect.ts DETECT_THRESHOLD). */
const DETECT_STRENGTH = 6;

/** Worse by at least the detection threshold: an incident. */
const INCIDENT_STRENGTH = 6;
/**
 * A change in which nothing got worse: a recovery, the end of an incident. Anything worse at
 * all (an error rate creeping up while latency falls, as when a dependency starts failing
 * fast) means wait and see: taking it for a recovery would restart the look after the new
 * fault's start, and the fault would never be seen.
 */
export function isRecovery(report: Pick<AnomalyReport, 'signals'>): boolean {
  return worseningStrength(report) === 0;
}

type Signal = AnomalyReport['signals'][number];
const signalKey = (s: Signal) => `${s.service}\u0000${s.operation ?? ''}\u0000${s.signal}\u0000${s.after > s.before ? 'up' : 'down'}`;

/**
 * Whether `next`, found soon after the diagnosed change `prev`, is more of the same: its
 * strongest signal is one of prev's strong ones (at least half prev's strongest score),
 * moving the same way (a ramp, a slow transition), or both are metric-only changes. A
 * different signal (errors at another service, latency somewhere else) is a new incident,
 * however soon it comes.
 */
export function sameIncident(prev: Pick<AnomalyReport, 'signals'>, next: Pick<AnomalyReport, 'signals'>): boolean {
  const p = prev.signals.filter((s) => s.signal !== 'throughput');
  const n = next.signals.filter((s) => s.signal !== 'throughput');
  if (p.length === 0 || n.length === 0) return p.length === n.length;
  const top = n.reduce((a, b) => (b.score > a.score ? b : a));
  const prevTop = Math.max(...p.map((s) => s.score));
  const strong = new Set(p.filter((s) => s.score >= 0.5 * prevTop).map(signalKey));
  return strong.has(signalKey(top));
}

export function createWatcher(deps: WatcherDeps): Watcher {
  const { store, state, events, dataDir } = deps;
  const config = { ...DEFAULT_WATCH_CONFIG, ...deps.config };
  const bucketMs = bucketWidth(config.windowMs);
  const minAfterBuckets = Math.max(2, Math.ceil((config.minChangeMs ?? 3 * bucketMs) / bucketMs));
  const maxDiagnosisSpans = config.maxDiagnosisSpans ?? 100_000;
  const diagnoseAfterBuckets = Math.max(minAfterBuckets, Math.ceil((config.diagnoseAfterMs ?? 5 * bucketMs) / bucketMs));
  // Filled from what the store holds now, then kept up to date by the store on ingest.
  const aggregates = store.operationAggregates(bucketMs, config.windowMs + bucketMs);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;
  let lastSeenNewestMs: number | undefined;
  let lastSeenCount = -1;
  let last: LookSummary | undefined;
  // Survive restarts: the last diagnosed change is in the state.
  let lastDiagnosed: AnomalyRecord | undefined = state.latestAnomaly();
  let lastDiagnosedChangeAtMs: number | undefined = lastDiagnosed ? (lastDiagnosed.changeAtMs ?? lastDiagnosed.window.toMs) : undefined;
  // Looks start no earlier than this (data time): just after the last change seen.
  let lookFromMs = -Infinity;
  // End (data time) of the last look that found no change to diagnose, and, while looks wait
  // to diagnose one, the earliest time that change can have happened.
  let lastNotFoundToMs = -Infinity;
  let pendingFloorMs: number | undefined;
  let health: ComponentHealth = { component: 'watcher', status: 'disabled', message: 'not started' };

  async function tick(): Promise<AnomalyRecord | undefined> {
    const t0 = performance.now();
    const done = (l: Omit<LookSummary, 'atMs' | 'lookMs'>) => {
      last = { atMs: Date.now(), lookMs: performance.now() - t0, ...l };
      // A run of looks waiting to diagnose one change ends with any other outcome.
      if (l.outcome !== 'waiting-for-data' && l.outcome !== 'waiting-for-metrics' && l.outcome !== 'no-new-data') {
        pendingFloorMs = undefined;
        if (l.outcome !== 'diagnosed' && l.window) lastNotFoundToMs = l.window.toMs;
      }
    };
    const stats = store.stats();
    const range = store.timeRange();
    if (!range) return undefined;
    // Cheap when nothing changed: no new telemetry since the last look, nothing to do.
    const count = stats.spans + stats.evictedSpans + stats.metricPoints + stats.evictedMetricPoints;
    if (range.toMs === lastSeenNewestMs && count === lastSeenCount) {
      done({ outcome: 'no-new-data', series: 0 });
      return undefined;
    }
    lastSeenNewestMs = range.toMs;
    lastSeenCount = count;

    // Whole buckets only: the one still filling (spans still arriving) is left out.
    const toMs = Math.floor((range.toMs + 1) / bucketMs) * bucketMs;
    const fromMs = Math.max(Math.ceil(range.fromMs / bucketMs) * bucketMs, toMs - config.windowMs, Math.ceil(lookFromMs / bucketMs) * bucketMs);
    // Too short to hold a change: 3 buckets before it and minAfterBuckets after.
    if (toMs - fromMs < (3 + minAfterBuckets) * bucketMs) {
      done({ outcome: 'too-short', series: 0, window: { fromMs, toMs } });
      return undefined;
    }
    const w = aggregates.window(fromMs, toMs);
    // The gauges' normal reaches back the whole detection window, not only to where the look
    // starts (after the last change): a leak starting seconds after a diagnosed fault has
    // only a point or two of its own window before it. Only a change inside the look counts.
    const metricsFromMs = Math.max(Math.ceil(range.fromMs / bucketMs) * bucketMs, toMs - config.windowMs);
    const metrics = store.queryMetrics({ fromMs: Math.min(metricsFromMs, w.fromMs), toMs: w.toMs });
    if (w.series.length === 0 && metrics.length === 0) {
      done({ outcome: 'quiet', series: 0, window: { fromMs, toMs } });
      return undefined;
    }
    const detectOptions = { minAfterBuckets, bucketVariance: config.bucketVariance ?? true, minUtilizationSpread: 0.02, metricsFromMs };
    let det: ChangeDetection = detectAnomalyInSeries(w, metrics, detectOptions);
    // A change the last look did not find cannot be older than minAfterBuckets before that
    // look's end. A split dated earlier (a drift before a step pulls it back) is read again
    // at the earliest possible time, so the signals are those of what is new.
    const floorMs = Math.ceil((lastNotFoundToMs - minAfterBuckets * bucketMs) / bucketMs) * bucketMs;
    if (det.detected && det.signals.length > 0 && det.changeAtMs !== undefined && det.changeAtMs < floorMs && floorMs > w.fromMs && floorMs < w.toMs) {
      det = detectChangeInSeries(w, { ...detectOptions, forceChangeAtMs: floorMs });
      if (det.strength < DETECT_STRENGTH) det = { ...det, detected: false };
      // The spans' change was old news; the resource gauges, consulted only when the spans
      // show nothing, may hold a new one (a leak starting just after a recovery).
      if (!det.detected) det = detectAnomalyInSeries({ ...w, series: [] }, metrics, detectOptions);
    }
    const { strength: _s, bucketMs: _b, ...report } = det;
    void _s;
    void _b;
    if (!report.detected) {
      done({ outcome: 'quiet', series: w.series.length, window: { fromMs: w.fromMs, toMs: w.toMs }, strength: det.strength });
      return undefined;
    }
    // A change with no time given counts as happening at the window's end.
    const changeKey = report.changeAtMs ?? w.toMs;
    const summary = { series: w.series.length, window: { fromMs: w.fromMs, toMs: w.toMs }, changeAtMs: changeKey, strength: det.strength, signals: report.signals.slice(0, 3) };
    // From now on, normal is what came after this change.
    const moveLookFrom = () => (lookFromMs = Math.max(lookFromMs, changeKey + bucketMs));
    const worse = worseningStrength(report);
    if (worse === 0) {
      moveLookFrom();
      done({ outcome: 'recovery', ...summary });
      return undefined;
    }
    if (worse < INCIDENT_STRENGTH) {
      // Partly better, partly worse, and the worse part not enough yet: look again later.
      done({ outcome: 'unsettled', ...summary });
      return undefined;
    }
    // The same incident: within the cooldown, and either dated where the last one was (give
    // or take the bucket jitter) or moving the same signals the same way.
    const sinceLast = lastDiagnosedChangeAtMs === undefined ? Infinity : Math.abs(changeKey - lastDiagnosedChangeAtMs);
    if (lastDiagnosed && sinceLast < config.cooldownMs && (sinceLast <= 2 * bucketMs || sameIncident(lastDiagnosed.report, report))) {
      moveLookFrom();
      done({ outcome: 'same-incident', ...summary });
      return undefined; // the same incident, already diagnosed
    }

    // The split can be dated too early (a slow drift before a step): a change the previous
    // look did not find happened no earlier than minAfterBuckets before that look's end, and
    // the waits below count from the later of the two.
    pendingFloorMs ??= lastNotFoundToMs - minAfterBuckets * bucketMs;
    const settledAtMs = Math.max(changeKey, pendingFloorMs);
    // Diagnose with some of the changed behaviour in hand: localization compares before and
    // after, and 3 buckets after a change are enough to detect it, not always to place it.
    if (w.toMs - settledAtMs < diagnoseAfterBuckets * bucketMs) {
      done({ outcome: 'waiting-for-data', ...summary });
      return undefined;
    }
    // Wait (a little) for the slower telemetry: every service instance sending metrics must
    // have sent some from after the change, so the diagnosis sees e.g. the configuration gauge
    // that stepped with it. An instance that went silent delays it by 10 buckets at most.
    if (w.toMs - settledAtMs < MAX_METRIC_WAIT_BUCKETS * bucketMs) {
      const newest = new Map<string, number>();
      for (const p of metrics) {
        // Services' own metrics (a host collector may report far less often).
        if (!p.service) continue;
        const k = `${p.service}\u0000${p.instance}`;
        if (!(p.timeMs <= (newest.get(k) ?? -Infinity))) newest.set(k, p.timeMs);
      }
      const needMs = settledAtMs + minAfterBuckets * bucketMs;
      const behind = [...newest.values()].filter((t) => t < needMs).length;
      if (behind > 0) {
        done({ outcome: 'waiting-for-metrics', ...summary });
        return undefined;
      }
    }

    // Diagnose on spans once: the detection window, as a sample of whole traces when large.
    const diagFromMs = w.fromMs;
    const snapshot = store.sampledSnapshot(diagFromMs, w.toMs, maxDiagnosisSpans);
    const { sampled, ...snap } = snapshot;
    // The gauges need some normal before the change to be judged by; when the look started
    // just before it (after the last change), give them up to 10 buckets of it.
    const gaugesFromMs = Math.max(metricsFromMs, changeKey - 10 * bucketMs);
    if (gaugesFromMs < diagFromMs) snap.metrics = metrics.filter((p) => p.timeMs >= gaugesFromMs);
    // The change this look found is the one to diagnose: searched for again in the window,
    // the split could land on an earlier change in it (the previous fault's recovery).
    const diagnosis = diagnose(snap, { id: newId('dg'), nowMs: Date.now(), changeAtMs: report.changeAtMs });
    noteSampled(diagnosis, sampled);
    const anomaly: AnomalyRecord = { id: newId('an'), detectedAtMs: Date.now(), window: { fromMs: diagFromMs, toMs: w.toMs }, report, diagnosisId: diagnosis.id };
    if (report.changeAtMs !== undefined) anomaly.changeAtMs = report.changeAtMs;
    state.saveDiagnosis(diagnosis, 'watch');
    state.saveAnomaly(anomaly);
    lastDiagnosed = anomaly;
    lastDiagnosedChangeAtMs = changeKey;
    moveLookFrom();
    events.emit('anomaly', anomaly);
    events.emit('diagnosis', { diagnosis, source: 'watch' });
    done({ outcome: 'diagnosed', ...summary, diagnosisSpans: snap.spans.length });

    if (config.autoRecord) {
      // The incident folder holds exactly what was diagnosed, so a replay sees the same data.
      const id = `auto-${new Date(changeKey).toISOString().replace(/[:.]/g, '-')}-${diagnosis.id.slice(-6)}`;
      const top = diagnosis.causes[0];
      const sampledNote = snapshot.sampled < 1 ? ` (${(snapshot.sampled * 100).toFixed(1)} % of traces)` : '';
      await writeIncident(path.join(incidentsDir(dataDir), id), {
        meta: { id, description: `auto-recorded by the watcher${sampledNote}: ${diagnosis.summary}` },
        spans: snap.spans,
        metrics: snap.metrics,
      });
      state.saveIncident({
        id,
        createdAtMs: Date.now(),
        window: { fromMs: diagFromMs, toMs: w.toMs },
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
    lastLook: () => last,
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
