// Host collector: system metrics (systeminformation), PSI, cgroup CPU throttling and memory,
// and perf software counters, written as MetricPoints attributed to the host (service '').
// Each capability reports its own health, so a kernel without PSI or a VM without perf
// shows as 'disabled'/'degraded' for that part only. Metric list: docs/collectors.md.

import * as os from 'node:os';
import type { SelfMetrics } from '../../agent/self-metrics';
import type { Component, ComponentHealth, HealthStatus } from '../../model/component';
import type { TelemetrySink } from '../../model/sink';
import type { MetricKind, MetricPoint } from '../../model/telemetry';
import { cgroupToPoints, readCgroup } from './cgroup';
import { startPerf, type PerfRow } from './perf';
import { psiToPoints, readPsi } from './psi';
import { sampleFast, sampleProcesses } from './system';

export { parsePsi, readPsi, psiToPoints } from './psi';
export { readCgroup, cgroupToPoints, parseProcCgroup } from './cgroup';
export { parsePerfCsvLine, perfArgs } from './perf';

export interface HostCollectorConfig {
  enabled: boolean;
  /** CPU, memory, disk, network, PSI, cgroup. */
  intervalMs: number;
  /** Process counts (systeminformation spawns ps: ~112 ms). */
  processIntervalMs: number;
  procRoot: string; // '/proc'
  cgroupRoot: string; // '/sys/fs/cgroup'
  /** Read this cgroup instead of faultline's own (path relative to the hierarchy root). */
  cgroupPath?: string;
  perf: {
    enabled: boolean;
    intervalMs: number;
    events: string[];
    /** perf binary; default 'perf' on PATH. */
    command?: string;
    /** Count one process (-p) instead of system-wide (-a). */
    pid?: number;
  };
  hostName?: string;
}

export const DEFAULT_PERF_EVENTS = ['task-clock', 'context-switches', 'cpu-migrations', 'page-faults', 'cycles', 'instructions'];

export function defaultHostCollectorConfig(): HostCollectorConfig {
  return {
    enabled: true,
    intervalMs: 5_000,
    processIntervalMs: 30_000,
    procRoot: '/proc',
    cgroupRoot: '/sys/fs/cgroup',
    // Off by default: system-wide perf needs root or perf_event_paranoid <= 0.
    perf: { enabled: false, intervalMs: 5_000, events: [...DEFAULT_PERF_EVENTS] },
  };
}

export interface HostCollectorDeps {
  metrics?: SelfMetrics;
  now?: () => number;
}

const RECEIVER = 'host';

/** perf event name -> metric name: perf.context_switches, perf.task_clock, ... */
export function perfMetricName(event: string): string {
  return 'perf.' + event.replace(/[^a-zA-Z0-9]+/g, '_').toLowerCase();
}

export function createHostCollector(config: HostCollectorConfig, sink: TelemetrySink, deps: HostCollectorDeps = {}): Component & { sampleOnce(): Promise<void> } {
  const now = deps.now ?? Date.now;
  const host = config.hostName ?? os.hostname();
  const health: Record<string, ComponentHealth> = {};
  const setHealth = (component: string, status: HealthStatus, message?: string) => {
    const prev = health[component];
    health[component] = { component, status, ...(message ? { message } : {}), sinceMs: prev && prev.status === status ? prev.sinceMs : now() };
  };
  setHealth('host', config.enabled ? 'ok' : 'disabled', config.enabled ? 'not sampled yet' : 'host collector disabled in config');
  setHealth('host:perf', 'disabled', 'perf disabled in config (host.perf.enabled)');

  let lastProcessesMs = -Infinity;
  let sampling: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let perf: ReturnType<typeof startPerf> | undefined;

  const toPoint = (r: { name: string; unit: string; kind: MetricKind; value: number; labels?: Record<string, string> }, timeMs: number): MetricPoint => ({
    name: r.name,
    unit: r.unit,
    kind: r.kind,
    service: '',
    instance: host,
    host,
    labels: r.labels ?? {},
    timeMs,
    value: r.value,
  });

  const deliver = (points: MetricPoint[]) => {
    if (points.length === 0) return;
    const r = sink.consumeMetrics(points);
    if (r.ok) metrics?.received.inc({ signal: 'metrics', receiver: RECEIVER }, r.accepted);
    else metrics?.dropped.inc({ signal: 'metrics', component: RECEIVER, reason: r.retryable ? 'overload' : 'refused' }, points.length);
  };
  const metrics = deps.metrics;

  const sample = async (): Promise<void> => {
    const timeMs = now();
    const processesDue = timeMs - lastProcessesMs >= config.processIntervalMs;
    const [fast, procs, psi, cgroup] = await Promise.all([
      sampleFast(),
      processesDue ? sampleProcesses() : Promise.resolve(undefined),
      readPsi(config.procRoot),
      readCgroup({ cgroupRoot: config.cgroupRoot, procRoot: config.procRoot, cgroupPath: config.cgroupPath }),
    ]);
    if (processesDue) lastProcessesMs = timeMs;

    const points: MetricPoint[] = fast.points.map((r) => toPoint(r, timeMs));
    if (procs) points.push(...procs.points.map((r) => toPoint(r, timeMs)));
    const errors = [...fast.errors, ...(procs?.errors ?? [])];
    setHealth('host', errors.length === 0 ? 'ok' : 'degraded', errors.length ? errors.join('; ') : undefined);

    const psiResources = Object.keys(psi.byResource);
    if (psiResources.length === 0 && psi.errors.length === 0) {
      setHealth('host:psi', 'disabled', `no PSI files under ${config.procRoot}/pressure (kernel < 4.20, CONFIG_PSI off or booted with psi=0)`);
    } else {
      points.push(...psiToPoints(psi).map((r) => toPoint(r, timeMs)));
      setHealth('host:psi', psi.errors.length ? 'degraded' : 'ok', psi.errors.length ? psi.errors.join('; ') : undefined);
    }

    if (!cgroup.cpu && !cgroup.memory) setHealth('host:cgroup', 'disabled', cgroup.notes.join('; ') || `no cgroup hierarchy under ${config.cgroupRoot}`);
    else {
      points.push(...cgroupToPoints(cgroup).map((r) => toPoint(r, timeMs)));
      // Found, but part of it is absent: still ok, the note says what is missing.
      setHealth('host:cgroup', 'ok', cgroup.notes.length ? cgroup.notes.join('; ') : undefined);
    }
    deliver(points);
  };

  const sampleOnce = (): Promise<void> => {
    if (!sampling) sampling = sample().finally(() => (sampling = undefined));
    return sampling;
  };

  // perf: counts per interval accumulated into cumulative counters (like every other counter here).
  const startPerfCounters = () => {
    const cumulative = new Map<string, number>();
    const unsupported = new Set<string>();
    const startedWallMs = now();
    setHealth('host:perf', 'ok', 'perf started, no interval yet');
    perf = startPerf({
      command: config.perf.command ?? 'perf',
      events: config.perf.events,
      intervalMs: config.perf.intervalMs,
      pid: config.perf.pid,
      onInterval(rows: PerfRow[]) {
        const points: MetricPoint[] = [];
        for (const row of rows) {
          if (row.value === undefined) {
            unsupported.add(row.event);
            continue;
          }
          unsupported.delete(row.event);
          const total = (cumulative.get(row.event) ?? 0) + row.value;
          cumulative.set(row.event, total);
          const labels: Record<string, string> = config.perf.pid !== undefined ? { 'process.pid': String(config.perf.pid) } : {};
          points.push(toPoint({ name: perfMetricName(row.event), unit: row.unit === 'msec' ? 'ms' : row.unit, kind: 'counter', value: total, labels }, startedWallMs + row.timeSec * 1000));
        }
        deliver(points);
        if (points.length === 0) setHealth('host:perf', 'disabled', `no requested perf event can be counted here (${[...unsupported].join(', ')} <not supported>/<not counted>)`);
        else setHealth('host:perf', 'ok', unsupported.size ? `not supported here (no PMU on this machine?): ${[...unsupported].join(', ')}` : undefined);
      },
      onExit(message) {
        perf = undefined;
        setHealth('host:perf', 'degraded', unsupported.size ? `${message}; not supported here: ${[...unsupported].join(', ')}` : message);
      },
    });
  };

  return {
    sampleOnce,
    async start() {
      if (!config.enabled || timer) return;
      // A throwing sink must not become an unhandled rejection that ends the process.
      const tick = () => void sampleOnce().catch((e: Error) => setHealth('host', 'degraded', `sample failed: ${e.message}`));
      tick(); // also takes currentLoad's baseline (517 ms first call)
      timer = setInterval(tick, config.intervalMs);
      timer.unref();
      if (config.perf.enabled) startPerfCounters();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      const p = perf;
      perf = undefined;
      if (p) await p.stop();
      if (config.perf.enabled) setHealth('host:perf', 'disabled', 'stopped');
      await (sampling ?? Promise.resolve());
    },
    health(): ComponentHealth[] {
      if (!config.enabled) return [{ ...health.host }];
      return Object.values(health).map((h) => ({ ...h }));
    },
  };
}
