import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SelfMetrics } from '../../agent/self-metrics';
import {
  createHostCollector,
  defaultHostCollectorConfig,
  parsePerfCsvLine,
  perfArgs,
  psiToPoints,
  readCgroup,
  readPsi,
  type HostCollectorConfig,
} from '../../collectors/host';
import { cgroupToPoints } from '../../collectors/host/cgroup';
import { parsePsi } from '../../collectors/host/psi';
import type { ConsumeResult, TelemetrySink } from '../../model/sink';
import type { MetricPoint, Span } from '../../model/telemetry';

const FIX = join(__dirname, '../fixtures-data/host');
const roots = (name: string) => ({ procRoot: join(FIX, name, 'proc'), cgroupRoot: join(FIX, name, 'sys/fs/cgroup') });

class CollectingSink implements TelemetrySink {
  points: MetricPoint[] = [];
  consumeSpans(spans: Span[]): ConsumeResult {
    return { ok: true, accepted: spans.length, rejected: 0 };
  }
  consumeMetrics(points: MetricPoint[]): ConsumeResult {
    this.points.push(...points);
    return { ok: true, accepted: points.length, rejected: 0 };
  }
  byName(name: string): MetricPoint[] {
    return this.points.filter((p) => p.name === name);
  }
}

describe('PSI', () => {
  it('reads some/full avg10/avg60/avg300/total for cpu, memory and io', async () => {
    const r = await readPsi(roots('psi').procRoot);
    expect(r.errors).toEqual([]);
    expect(Object.keys(r.byResource).sort()).toEqual(['cpu', 'io', 'memory']);
    expect(r.byResource.cpu?.[0]).toEqual({ type: 'some', avg10: 43.37, avg60: 21.34, avg300: 7.35, totalUs: 31664119 });
    const points = psiToPoints(r);
    expect(points).toHaveLength(3 * 2 * 4);
    expect(points.find((p) => p.name === 'system.pressure.io.full.avg300')).toEqual({ name: 'system.pressure.io.full.avg300', unit: '%', kind: 'gauge', value: 0.36 });
    expect(points.find((p) => p.name === 'system.pressure.cpu.some.total')).toMatchObject({ kind: 'counter', unit: 'us', value: 31664119 });
  });

  it('treats missing pressure files as absent, and a malformed file as an error naming file and line', async () => {
    expect(await readPsi(roots('psi-absent').procRoot)).toEqual({ byResource: {}, errors: [] });
    const bad = await readPsi(roots('psi-malformed').procRoot);
    expect(bad.errors).toEqual([expect.stringMatching(/pressure\/io:2: not a PSI line: "full avg10=oops"/)]);
    expect(() => parsePsi('some avg10=1 avg60=2 avg300=3 total=4\n')).not.toThrow();
  });
});

describe('cgroups', () => {
  it('v1 hybrid (this VM): cpu at the root, memory in a sub-cgroup, "unlimited" sentinel gives no limit', async () => {
    const r = await readCgroup(roots('cgroup-v1-hybrid'));
    expect(r.cpu).toMatchObject({ version: 1, periods: 0, throttledPeriods: 0, throttledSeconds: 0, usageSeconds: 196.566478575 });
    expect(r.cpu?.dir).toMatch(/sys\/fs\/cgroup\/cpu$/);
    expect(r.memory).toMatchObject({ version: 1, usageBytes: 77615104, limitHits: 0, oomKills: 0 });
    expect(r.memory?.dir).toMatch(/memory\/process_api\/e103e5264ae401358b1d4c03f912d0ca$/);
    expect(r.memory?.limitBytes).toBeUndefined();
    const names = cgroupToPoints(r).map((p) => p.name);
    expect(names).toContain('container.memory.usage');
    expect(names).not.toContain('container.memory.limit');
    expect(names).not.toContain('container.memory.utilization');
  });

  it('v1 throttled container: cpu,cpuacct mount, throttled time in seconds, limit, failcnt and oom kills', async () => {
    const r = await readCgroup(roots('cgroup-v1-throttled'));
    expect(r.cpu).toMatchObject({ version: 1, periods: 4520, throttledPeriods: 1210, throttledSeconds: 187.654321, usageSeconds: 912.345678901 });
    expect(r.memory).toMatchObject({ version: 1, usageBytes: 509607936, limitBytes: 536870912, limitHits: 37, oomKills: 2 });
    const pts = cgroupToPoints(r);
    expect(pts.find((p) => p.name === 'container.memory.utilization')?.value).toBeCloseTo(0.949, 3);
    expect(pts.find((p) => p.name === 'container.cpu.throttled_time')).toMatchObject({ kind: 'counter', unit: 's', labels: { 'cgroup.version': '1' } });
  });

  it('v2 service: cpu.stat throttled_usec, memory.current/max, memory.events max and oom_kill', async () => {
    const r = await readCgroup(roots('cgroup-v2'));
    expect(r.notes).toEqual([]);
    expect(r.cpu).toMatchObject({ version: 2, periods: 98211, throttledPeriods: 2211, throttledSeconds: 45.566778, usageSeconds: 1843.220991 });
    expect(r.memory).toMatchObject({ version: 2, usageBytes: 1610612736, limitBytes: 2147483648, limitHits: 14, oomKills: 1 });
    expect(cgroupToPoints(r).find((p) => p.name === 'container.memory.utilization')?.value).toBe(0.75);
  });

  it('v2 "max" means no limit; a path not visible falls back to the root; root without memory.current is noted', async () => {
    const max = await readCgroup(roots('cgroup-v2-max'));
    expect(max.memory).toMatchObject({ usageBytes: 4096 });
    expect(max.memory?.limitBytes).toBeUndefined();

    const root = await readCgroup(roots('cgroup-v2-unlimited-root'));
    expect(root.cpu).toMatchObject({ version: 2, usageSeconds: 0.005512 });
    expect(root.cpu?.throttledPeriods).toBeUndefined();
    expect(root.memory).toBeUndefined();
    expect(root.notes.join(' ')).toMatch(/no memory.current/);
    expect(root.notes.join(' ')).toMatch(/cpu controller not enabled/);

    const none = await readCgroup(roots('no-cgroup'));
    expect(none.cpu).toBeUndefined();
    expect(none.memory).toBeUndefined();
    expect(none.notes).toHaveLength(2);
  });

  it('a configured cgroupPath overrides /proc/self/cgroup', async () => {
    const r = await readCgroup({ ...roots('cgroup-v2'), procRoot: roots('no-cgroup').procRoot, cgroupPath: '/system.slice/recsys-ranker.service' });
    expect(r.cpu?.throttledPeriods).toBe(2211);
  });
});

describe('perf stat interval CSV', () => {
  const rows = (file: string) =>
    readFileSync(join(FIX, 'perf', file), 'utf8')
      .split('\n')
      .map(parsePerfCsvLine)
      .filter((r) => r !== undefined);

  it('VM without a PMU: software events counted, cycles/instructions <not supported>', () => {
    const r = rows('vm-no-pmu.csv');
    const first = r.filter((x) => x.timeSec === r[0].timeSec);
    expect(first.map((x) => [x.event, x.status])).toEqual([
      ['task-clock', 'counted'],
      ['context-switches', 'counted'],
      ['cpu-migrations', 'counted'],
      ['page-faults', 'counted'],
      ['cycles', 'not supported'],
      ['instructions', 'not supported'],
    ]);
    expect(first[0].unit).toBe('msec');
    expect(first[0].value).toBeGreaterThan(1000);
    expect(first[4].value).toBeUndefined();
  });

  it('machine with a PMU: cycles counted, a <not counted> row has no value, the header is ignored', () => {
    const r = rows('with-pmu.csv');
    expect(r).toHaveLength(12);
    expect(r.find((x) => x.event === 'cycles')).toMatchObject({ value: 2411093551, status: 'counted', timeSec: 1.000412233 });
    const notCounted = r.find((x) => x.event === 'instructions');
    expect(notCounted?.status).toBe('not counted');
    expect(notCounted?.value).toBeUndefined();
    expect(parsePerfCsvLine('event syntax error')).toBeUndefined();
  });

  it('builds system-wide or per-pid arguments', () => {
    expect(perfArgs({ events: ['task-clock', 'page-faults'], intervalMs: 5000 })).toEqual(['stat', '-x,', '-I', '5000', '-e', 'task-clock,page-faults', '-a']);
    expect(perfArgs({ events: ['task-clock'], intervalMs: 10, pid: 42 })).toEqual(['stat', '-x,', '-I', '100', '-e', 'task-clock', '-p', '42']);
  });
});

describe('host collector', () => {
  const base = (over: Partial<HostCollectorConfig> = {}): HostCollectorConfig => ({ ...defaultHostCollectorConfig(), hostName: 'node-a', ...over });

  it('live sampleOnce on this machine: systeminformation metrics arrive, attributed to the host', async () => {
    const sink = new CollectingSink();
    const metrics = new SelfMetrics({ defaultMetrics: false });
    const collector = createHostCollector(base(), sink, { metrics });
    await collector.sampleOnce();

    const busy = sink.byName('system.cpu.utilization').find((p) => Object.keys(p.labels).length === 0);
    expect(busy).toBeDefined();
    expect(busy!.value).toBeGreaterThanOrEqual(0);
    expect(busy!.value).toBeLessThanOrEqual(1);
    const used = sink.byName('system.memory.usage').find((p) => p.labels['system.memory.state'] === 'used');
    expect(used!.value).toBeGreaterThan(0);
    expect(sink.byName('system.memory.limit')[0].value).toBeGreaterThan(used!.value);
    expect(sink.byName('system.disk.io').map((p) => p.labels['disk.io.direction']).sort()).toEqual(['read', 'write']);
    expect(sink.byName('system.network.io').some((p) => p.labels['network.interface.name'] === 'lo')).toBe(true);
    expect(sink.byName('system.process.count').reduce((n, p) => n + p.value, 0)).toBeGreaterThan(0);
    expect(sink.byName('process.memory.usage')[0]).toMatchObject({ labels: { 'process.pid': String(process.pid) } });
    expect(sink.points.every((p) => p.service === '' && p.host === 'node-a' && p.instance === 'node-a')).toBe(true);
    expect(collector.health().find((h) => h.component === 'host')).toMatchObject({ status: 'ok' });
    expect(collector.health().find((h) => h.component === 'host:perf')).toMatchObject({ status: 'disabled' });
    const received = (await metrics.received.get()).values.find((v) => v.labels.receiver === 'host');
    expect(received?.value).toBe(sink.points.length);

    // Processes are on their slower interval: a second sample right away leaves them out.
    sink.points = [];
    await collector.sampleOnce();
    expect(sink.byName('system.process.count')).toHaveLength(0);
    expect(sink.byName('system.cpu.utilization').length).toBeGreaterThan(0);
  });

  it('reports PSI absent as disabled with a reason, and cgroup metrics from fixture roots', async () => {
    const sink = new CollectingSink();
    const collector = createHostCollector(base({ procRoot: roots('psi-absent').procRoot, cgroupRoot: roots('cgroup-v2').cgroupRoot, cgroupPath: '/system.slice/recsys-ranker.service' }), sink);
    await collector.sampleOnce();
    expect(collector.health().find((h) => h.component === 'host:psi')).toMatchObject({ status: 'disabled', message: expect.stringMatching(/no PSI files under .*psi-absent\/proc\/pressure/) });
    expect(sink.points.filter((p) => p.name.startsWith('system.pressure.'))).toHaveLength(0);
    expect(collector.health().find((h) => h.component === 'host:cgroup')).toMatchObject({ status: 'ok' });
    expect(sink.byName('container.cpu.throttled_periods')[0]).toMatchObject({ value: 2211, labels: { 'cgroup.version': '2' }, host: 'node-a' });
  });

  it('emits PSI points when present and says disabled when there is no cgroup hierarchy', async () => {
    const sink = new CollectingSink();
    const collector = createHostCollector(base({ procRoot: roots('psi').procRoot, cgroupRoot: roots('no-cgroup').cgroupRoot }), sink);
    await collector.sampleOnce();
    expect(sink.byName('system.pressure.cpu.some.avg10')[0].value).toBe(43.37);
    expect(collector.health().find((h) => h.component === 'host:psi')?.status).toBe('ok');
    expect(collector.health().find((h) => h.component === 'host:cgroup')).toMatchObject({ status: 'disabled', message: expect.stringMatching(/no cgroup cpu hierarchy/) });
  });

  it('perf: a missing binary is reported in health, the rest keeps working', async () => {
    const sink = new CollectingSink();
    const collector = createHostCollector(base({ intervalMs: 60_000, perf: { enabled: true, intervalMs: 1000, events: ['task-clock'], command: '/nonexistent/perf' } }), sink);
    try {
      await collector.start();
      await waitFor(() => collector.health().find((h) => h.component === 'host:perf')?.status === 'degraded');
      expect(collector.health().find((h) => h.component === 'host:perf')?.message).toMatch(/perf binary "\/nonexistent\/perf" not found/);
      await collector.sampleOnce();
      expect(collector.health().find((h) => h.component === 'host')?.status).toBe('ok');
      expect(sink.byName('system.cpu.utilization').length).toBeGreaterThan(0);
    } finally {
      await collector.stop();
    }
  });

  it('perf: interval CSV becomes cumulative perf.* counters; unsupported events are named in health', async () => {
    const sink = new CollectingSink();
    const command = join(FIX, 'perf', 'replay-perf.sh');
    const collector = createHostCollector(base({ intervalMs: 60_000, perf: { enabled: true, intervalMs: 1000, events: ['task-clock', 'context-switches', 'cycles'], command } }), sink);
    try {
      await collector.start();
      // The replay ends after three intervals: perf "exits".
      await waitFor(() => collector.health().find((h) => h.component === 'host:perf')?.status === 'degraded');
      expect(collector.health().find((h) => h.component === 'host:perf')?.message).toMatch(/perf exited \(code 0\); not supported here: cycles, instructions$/); // the recording asked for both
    } finally {
      await collector.stop();
    }
    const recorded = readFileSync(join(FIX, 'perf', 'vm-no-pmu.csv'), 'utf8').split('\n').map(parsePerfCsvLine);
    const cs = recorded.filter((r) => r?.event === 'context-switches').map((r) => r!.value!);
    const points = sink.byName('perf.context_switches');
    expect(points.map((p) => p.value)).toEqual(cs.map((_, i) => cs.slice(0, i + 1).reduce((a, b) => a + b, 0)));
    expect(points[0]).toMatchObject({ kind: 'counter', host: 'node-a', service: '' });
    expect(sink.byName('perf.task_clock')[0].unit).toBe('ms');
    expect(sink.byName('perf.cycles')).toHaveLength(0);
    expect(collector.health().find((h) => h.component === 'host:perf')?.status).toBe('disabled'); // stopped
  });

  // Real perf where the machine has it (Debian linux-perf); the fixtures above cover its absence.
  const hasPerf = spawnSync('perf', ['--version']).status === 0;
  (hasPerf ? it : it.skip)('perf: live perf stat on this machine yields software counters', async () => {
    const sink = new CollectingSink();
    const collector = createHostCollector(base({ intervalMs: 60_000, perf: { enabled: true, intervalMs: 200, events: ['task-clock', 'context-switches', 'cycles'], pid: process.pid } }), sink);
    try {
      await collector.start();
      await waitFor(() => sink.byName('perf.task_clock').length >= 2);
    } finally {
      await collector.stop();
    }
    const tc = sink.byName('perf.task_clock');
    expect(tc[1].value).toBeGreaterThanOrEqual(tc[0].value);
    expect(tc[0].labels).toEqual({ 'process.pid': String(process.pid) });
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
