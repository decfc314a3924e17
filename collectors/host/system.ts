// Host CPU, memory, disk, network and process-count metrics from systeminformation, named
// after the OpenTelemetry semantic conventions (system.*) and the hostmetrics receiver.
// Measured costs (docs/collectors.md): currentLoad 517 ms on its first call (it takes a
// baseline), ~7 ms after; the fast set 1-60 ms; processes() ~112 ms (spawns ps), so it runs
// on its own, slower interval.

import * as os from 'node:os';
import * as si from 'systeminformation';
import type { MetricKind } from '../../model/telemetry';

/** What a sampler emits before attribution: the collector adds host/service/instance/time. */
export interface RawPoint {
  name: string;
  unit: string;
  kind: MetricKind;
  labels: Record<string, string>;
  value: number;
}

export interface SampleOutcome {
  points: RawPoint[];
  /** One message per systeminformation call that failed or returned nothing. */
  errors: string[];
}

const p = (name: string, unit: string, kind: MetricKind, value: number, labels: Record<string, string> = {}): RawPoint => ({ name, unit, kind, labels, value });

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

async function attempt<T>(what: string, errors: string[], f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    errors.push(`${what} failed: ${(e as Error).message}`);
    return undefined;
  }
}

/** The every-interval set: CPU, load, memory, swap, disk I/O, network, faultline's own process. */
export async function sampleFast(): Promise<SampleOutcome> {
  const errors: string[] = [];
  const points: RawPoint[] = [];
  const [load, mem, disk, fs, net] = await Promise.all([
    attempt('currentLoad', errors, () => si.currentLoad()),
    attempt('mem', errors, () => si.mem()),
    attempt('disksIO', errors, () => si.disksIO()),
    attempt('fsStats', errors, () => si.fsStats()),
    attempt('networkStats', errors, () => si.networkStats('*')),
  ]);

  if (load && finite(load.currentLoad)) {
    // Unlabelled point = total busy share; per-mode points carry cpu.mode.
    points.push(p('system.cpu.utilization', '1', 'gauge', load.currentLoad / 100));
    const modes: Array<[string, number]> = [
      ['user', load.currentLoadUser],
      ['system', load.currentLoadSystem],
      ['nice', load.currentLoadNice],
      ['idle', load.currentLoadIdle],
      ['interrupt', load.currentLoadIrq],
      ['steal', load.currentLoadSteal],
    ];
    for (const [mode, v] of modes) if (finite(v)) points.push(p('system.cpu.utilization', '1', 'gauge', v / 100, { 'cpu.mode': mode }));
    points.push(p('system.cpu.logical.count', '{cpu}', 'gauge', load.cpus.length));
  }
  const [l1, l5, l15] = os.loadavg();
  points.push(p('system.cpu.load_average.1m', '{thread}', 'gauge', l1), p('system.cpu.load_average.5m', '{thread}', 'gauge', l5), p('system.cpu.load_average.15m', '{thread}', 'gauge', l15));

  if (mem && finite(mem.total) && mem.total > 0) {
    // "used" as hostmetrics means it: what is not available to new allocations.
    const states: Array<[string, number]> = [
      ['used', mem.total - mem.available],
      ['free', mem.free],
      ['cached', mem.cached],
      ['buffers', mem.buffers],
    ];
    for (const [state, v] of states) {
      if (!finite(v)) continue;
      points.push(p('system.memory.usage', 'By', 'updowncounter', v, { 'system.memory.state': state }));
      points.push(p('system.memory.utilization', '1', 'gauge', v / mem.total, { 'system.memory.state': state }));
    }
    points.push(p('system.memory.limit', 'By', 'updowncounter', mem.total));
    if (finite(mem.swaptotal) && mem.swaptotal > 0) {
      points.push(p('system.paging.usage', 'By', 'updowncounter', mem.swapused, { 'system.paging.state': 'used' }));
      points.push(p('system.paging.usage', 'By', 'updowncounter', mem.swapfree, { 'system.paging.state': 'free' }));
    }
  }

  // systeminformation sums all block devices: no per-device attribute.
  if (fs && finite(fs.rx) && finite(fs.wx)) {
    points.push(p('system.disk.io', 'By', 'counter', fs.rx, { 'disk.io.direction': 'read' }), p('system.disk.io', 'By', 'counter', fs.wx, { 'disk.io.direction': 'write' }));
  }
  if (disk && finite(disk.rIO) && finite(disk.wIO)) {
    points.push(
      p('system.disk.operations', '{operation}', 'counter', disk.rIO, { 'disk.io.direction': 'read' }),
      p('system.disk.operations', '{operation}', 'counter', disk.wIO, { 'disk.io.direction': 'write' }),
    );
    if (finite(disk.rWaitTime) && finite(disk.wWaitTime)) {
      points.push(
        p('system.disk.operation_time', 's', 'counter', disk.rWaitTime / 1000, { 'disk.io.direction': 'read' }),
        p('system.disk.operation_time', 's', 'counter', disk.wWaitTime / 1000, { 'disk.io.direction': 'write' }),
      );
    }
  }

  for (const n of net ?? []) {
    const iface = { 'network.interface.name': n.iface };
    const dirs: Array<['receive' | 'transmit', number, number, number]> = [
      ['receive', n.rx_bytes, n.rx_errors, n.rx_dropped],
      ['transmit', n.tx_bytes, n.tx_errors, n.tx_dropped],
    ];
    for (const [direction, bytes, errs, dropped] of dirs) {
      const labels = { ...iface, 'network.io.direction': direction };
      if (finite(bytes)) points.push(p('system.network.io', 'By', 'counter', bytes, labels));
      if (finite(errs)) points.push(p('system.network.errors', '{error}', 'counter', errs, labels));
      if (finite(dropped)) points.push(p('system.network.packet.dropped', '{packet}', 'counter', dropped, labels));
    }
  }

  // faultline's own process: cheap, from Node itself.
  const cpu = process.cpuUsage();
  const self = { 'process.pid': String(process.pid) };
  points.push(
    p('process.cpu.time', 's', 'counter', cpu.user / 1e6, { ...self, 'cpu.mode': 'user' }),
    p('process.cpu.time', 's', 'counter', cpu.system / 1e6, { ...self, 'cpu.mode': 'system' }),
    p('process.memory.usage', 'By', 'updowncounter', process.memoryUsage.rss(), self),
    p('process.uptime', 's', 'gauge', process.uptime(), self),
  );
  return { points, errors };
}

/** The slow set: process counts by state (systeminformation spawns ps: ~112 ms). */
export async function sampleProcesses(): Promise<SampleOutcome> {
  const errors: string[] = [];
  const points: RawPoint[] = [];
  const procs = await attempt('processes', errors, () => si.processes());
  if (procs) {
    const states: Array<[string, number]> = [
      ['running', procs.running],
      ['sleeping', procs.sleeping],
      ['blocked', procs.blocked],
      ['unknown', procs.unknown],
    ];
    for (const [state, v] of states) if (finite(v)) points.push(p('system.process.count', '{process}', 'updowncounter', v, { 'process.state': state }));
  }
  return { points, errors };
}
