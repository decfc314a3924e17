// A small deterministic simulator of a recommendation request path, for fixtures and
// benchmarks: it produces the spans and host/instance metrics a real deployment would send,
// with normal traffic first and then one injected fault, plus the ground truth.
//
//   gateway -> recommend -> candidates -> {recall-cf, recall-embedding, recall-popular} (parallel)
//                        -> feature-store -> feature-cache (redis, uninstrumented) / db load on miss
//                        -> ranker -> model-server
//                        -> filter
//
// Every call is a CLIENT span at the caller and a SERVER span at the callee (child of the
// client span), so the network gap between them is visible. Same seed, same output.

import type { FaultKind } from '../../model/diagnosis';
import { SpanKind, StatusCode, type Attributes, type MetricPoint, type Span } from '../../model/telemetry';
import type { IncidentContent } from './writer';

export interface SimulatedFault {
  kind: Exclude<FaultKind, 'unknown'>;
  service: string;
  /** One instance of the service; all of its instances when absent. */
  instance?: string;
  /** How strong, 1 = the default effect size. */
  severity?: number;
  /** delay / loss: only calls from this caller service (one edge); every caller when absent. */
  fromService?: string;
}

export interface SimulationOptions {
  id: string;
  seed?: number;
  /** Start of the recording (ms since epoch). */
  startMs?: number;
  durationMs?: number;
  /** When the fault starts, as ms after startMs (default 60 % into the recording). */
  faultAfterMs?: number;
  /** Front-door requests per second (Poisson arrivals). */
  requestsPerSecond?: number;
  metricIntervalMs?: number;
  fault?: SimulatedFault;
  /** Also simulate a fault-free recording of this length just before startMs, as baseline/. */
  baselineMs?: number;
  /** Leave the ground truth out of the meta (an incident whose cause is unknown). */
  withoutTruth?: boolean;
}

interface Instance {
  service: string;
  instance: string;
  host: string;
}

/** Services, their instances and hosts. Two instances where a recsys typically scales out. */
export const TOPOLOGY: Instance[] = [
  { service: 'gateway', instance: 'gateway-0', host: 'node-a' },
  { service: 'recommend', instance: 'recommend-0', host: 'node-a' },
  { service: 'recommend', instance: 'recommend-1', host: 'node-b' },
  { service: 'candidates', instance: 'candidates-0', host: 'node-b' },
  { service: 'recall-cf', instance: 'recall-cf-0', host: 'node-c' },
  { service: 'recall-embedding', instance: 'recall-embedding-0', host: 'node-c' },
  { service: 'recall-popular', instance: 'recall-popular-0', host: 'node-b' },
  { service: 'feature-store', instance: 'feature-store-0', host: 'node-a' },
  { service: 'feature-store', instance: 'feature-store-1', host: 'node-c' },
  { service: 'ranker', instance: 'ranker-0', host: 'node-b' },
  { service: 'ranker', instance: 'ranker-1', host: 'node-d' },
  { service: 'model-server', instance: 'model-server-0', host: 'node-d' },
  { service: 'filter', instance: 'filter-0', host: 'node-a' },
];

/** Median self time (ms) of each service's handler. */
const SELF_MS: Record<string, number> = {
  gateway: 1.5,
  recommend: 3,
  candidates: 2,
  'recall-cf': 8,
  'recall-embedding': 12,
  'recall-popular': 3,
  'feature-store': 3,
  ranker: 10, // scoring hundreds of candidates is the CPU-heavy step
  'model-server': 18,
  filter: 2.5,
};

/** Resident memory (bytes) of each service in normal operation. */
const MEMORY_BYTES: Record<string, number> = {
  gateway: 180e6,
  recommend: 420e6,
  candidates: 300e6,
  'recall-cf': 900e6,
  'recall-embedding': 1.4e9,
  'recall-popular': 150e6,
  'feature-store': 600e6,
  ranker: 500e6,
  'model-server': 2.2e9,
  filter: 160e6,
};

const CONFIG_REVISION_BEFORE = 'r17';
const CONFIG_REVISION_AFTER = 'r18';

interface Outcome {
  endMs: number;
  error: boolean;
  message?: string;
}

/** mulberry32: tiny, fast, good enough for simulation, and reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Simulator {
  readonly spans: Span[] = [];
  private readonly rand: () => number;
  private readonly byService = new Map<string, Instance[]>();
  private readonly roundRobin = new Map<string, number>();
  /** Busy ms per instance per metric interval, for the CPU gauges. */
  private readonly busy = new Map<string, Map<number, number>>();
  private readonly faultAtMs: number;
  /** Noise of the disk series only, so adding them left every other series as it was. */
  private readonly diskRand: () => number;

  constructor(
    private readonly o: Required<Pick<SimulationOptions, 'seed' | 'startMs' | 'durationMs' | 'requestsPerSecond' | 'metricIntervalMs'>> & {
      fault?: SimulatedFault;
      faultAtMs: number;
    },
  ) {
    this.rand = prng(o.seed);
    this.diskRand = prng(o.seed ^ 0xd15c);
    this.faultAtMs = o.faultAtMs;
    for (const i of TOPOLOGY) {
      const list = this.byService.get(i.service) ?? [];
      list.push(i);
      this.byService.set(i.service, list);
    }
  }

  // ---- random helpers ---------------------------------------------------------------
  private normal(): number {
    const u = 1 - this.rand();
    const v = this.rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  private lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
  private hex(chars: number): string {
    let s = '';
    while (s.length < chars) s += Math.floor(this.rand() * 0x100000000).toString(16).padStart(8, '0');
    return s.slice(0, chars);
  }

  // ---- fault ------------------------------------------------------------------------
  private faulty(inst: Instance, t: number, kind?: SimulatedFault['kind']): boolean {
    const f = this.o.fault;
    if (!f || t < this.faultAtMs) return false;
    if (kind && f.kind !== kind) return false;
    return f.service === inst.service && (f.instance === undefined || f.instance === inst.instance);
  }
  private get severity(): number {
    return this.o.fault?.severity ?? 1;
  }

  /** A network fault on the edge caller -> callee. */
  private edgeFaulty(caller: Instance, callee: Instance, t: number, kind: 'delay' | 'loss'): boolean {
    const from = this.o.fault?.fromService;
    return this.faulty(callee, t, kind) && (from === undefined || from === caller.service);
  }

  private pick(service: string): Instance {
    const list = this.byService.get(service)!;
    const n = this.roundRobin.get(service) ?? 0;
    this.roundRobin.set(service, n + 1);
    return list[n % list.length];
  }

  private selfTime(inst: Instance, t: number): number {
    let ms = this.lognormal(SELF_MS[inst.service] / 2, 0.25);
    if (this.faulty(inst, t, 'cpu')) ms *= 1 + 5 * this.severity * (0.6 + 0.8 * this.rand()); // run queue: every slice waits
    if (this.faulty(inst, t, 'memory')) {
      ms *= 1 + 1.0 * this.severity;
      if (this.rand() < 0.2) ms += this.severity * (40 + 80 * this.rand()); // stop-the-world GC pauses
    }
    if (this.faulty(inst, t, 'config')) ms *= 1 + 2 * this.severity;
    if (this.faulty(inst, t, 'disk')) {
      ms *= 1 + 0.6 * this.severity; // synchronous log writes wait on a saturated device
      if (this.rand() < 0.15) ms += this.severity * (20 + 40 * this.rand()); // an fsync stall
    }
    const slot = Math.floor((t - this.o.startMs) / this.o.metricIntervalMs);
    const b = this.busy.get(inst.instance) ?? new Map<number, number>();
    b.set(slot, (b.get(slot) ?? 0) + ms);
    this.busy.set(inst.instance, b);
    return ms;
  }

  private resourceOf(inst: Instance, t: number): Attributes {
    const r: Attributes = { 'deployment.environment.name': 'prod', 'telemetry.sdk.language': 'python' };
    if (this.o.fault?.kind === 'config' && this.o.fault.service === inst.service && (this.o.fault.instance === undefined || this.o.fault.instance === inst.instance)) {
      r['config.revision'] = t >= this.faultAtMs ? CONFIG_REVISION_AFTER : CONFIG_REVISION_BEFORE;
    } else {
      r['config.revision'] = CONFIG_REVISION_BEFORE;
    }
    return r;
  }

  private push(inst: Instance, s: Omit<Span, 'service' | 'instance' | 'host' | 'resource'>): void {
    this.spans.push({
      traceId: s.traceId,
      spanId: s.spanId,
      parentSpanId: s.parentSpanId,
      service: inst.service,
      instance: inst.instance,
      host: inst.host,
      name: s.name,
      kind: s.kind,
      startMs: s.startMs,
      durationMs: Math.max(0.001, Math.round(s.durationMs * 1000) / 1000),
      status: s.status,
      statusMessage: s.statusMessage,
      attributes: s.attributes,
      resource: this.resourceOf(inst, s.startMs),
      exceptionCount: s.exceptionCount,
    });
  }

  // ---- calls ------------------------------------------------------------------------
  /** A call from `caller` to a service: client span, network both ways, the callee's server span. */
  private call(caller: Instance, service: string, op: string, traceId: string, parentId: string, t: number): Outcome {
    const callee = this.pick(service);
    const clientId = this.hex(16);
    let oneWay = 0.15 + this.lognormal(0.12, 0.4);
    if (this.edgeFaulty(caller, callee, t, 'delay')) oneWay += 40 * this.severity * (0.8 + 0.4 * this.rand()); // netem on the callee's interface
    const lost = this.edgeFaulty(caller, callee, t, 'loss') ? this.rand() : 1;
    if (lost < 0.3 * Math.min(1, this.severity)) {
      // Connection never established: the caller times out / is reset; the callee sees nothing.
      const dur = 80 + 40 * this.rand();
      this.push(caller, {
        traceId,
        spanId: clientId,
        parentSpanId: parentId,
        name: op,
        kind: SpanKind.CLIENT,
        startMs: t,
        durationMs: dur,
        status: StatusCode.ERROR,
        statusMessage: `connect ECONNRESET ${service}:8080`,
        attributes: { 'server.address': service, 'server.port': 8080, 'http.request.method': 'POST', 'error.type': 'ECONNRESET' },
        exceptionCount: 1,
      });
      return { endMs: t + dur, error: true, message: `${service} unreachable` };
    }
    if (lost < 0.5) oneWay += 200 * this.rand(); // a retransmitted segment
    const out = this.serve(callee, op, traceId, clientId, t + oneWay);
    const end = out.endMs + 0.1 + this.lognormal(0.1, 0.4);
    this.push(caller, {
      traceId,
      spanId: clientId,
      parentSpanId: parentId,
      name: op,
      kind: SpanKind.CLIENT,
      startMs: t,
      durationMs: end - t,
      status: out.error ? StatusCode.ERROR : StatusCode.UNSET,
      statusMessage: out.error ? 'HTTP 500' : '',
      attributes: { 'server.address': service, 'server.port': 8080, 'http.request.method': 'POST', 'http.response.status_code': out.error ? 500 : 200 },
      exceptionCount: 0,
    });
    return { endMs: end, error: out.error, message: out.message };
  }

  /** The callee's handler: own work, downstream calls, and its server span. */
  private serve(inst: Instance, op: string, traceId: string, parentId: string, t: number): Outcome {
    const spanId = this.hex(16);
    let cur = t + this.selfTime(inst, t);
    let error = false;
    let message = '';
    let exceptions = 0;
    const downstream = (service: string, name: string, critical: boolean) => {
      if (error) return;
      const o = this.call(inst, service, name, traceId, spanId, cur);
      cur = o.endMs;
      if (o.error && critical) {
        error = true;
        message = `upstream ${service} failed: ${o.message ?? 'error'}`;
      }
    };
    switch (inst.service) {
      case 'gateway':
        downstream('recommend', 'POST /recommend', true);
        break;
      case 'recommend':
        downstream('candidates', 'POST /candidates', true);
        downstream('feature-store', 'POST /features', true);
        downstream('ranker', 'POST /rank', true);
        downstream('filter', 'POST /filter', false); // unfiltered results beat none
        break;
      case 'candidates': {
        const start = cur;
        const outs = ['recall-cf', 'recall-embedding', 'recall-popular'].map((s) => this.call(inst, s, 'POST /recall', traceId, spanId, start));
        cur = Math.max(...outs.map((o) => o.endMs));
        if (outs.every((o) => o.error)) {
          error = true;
          message = 'every recall source failed';
        }
        break;
      }
      case 'feature-store': {
        const cacheMs = this.lognormal(0.6, 0.3);
        this.push(inst, {
          traceId,
          spanId: this.hex(16),
          parentSpanId: spanId,
          name: 'GET',
          kind: SpanKind.CLIENT,
          startMs: cur,
          durationMs: cacheMs,
          status: StatusCode.UNSET,
          statusMessage: '',
          attributes: { 'db.system.name': 'redis', 'server.address': 'feature-cache', 'db.operation.name': 'GET' },
          exceptionCount: 0,
        });
        cur += cacheMs;
        if (this.rand() < 0.2) {
          let loadMs = this.lognormal(12, 0.3);
          if (this.faulty(inst, cur, 'disk')) loadMs *= 1 + 3 * this.severity; // the feature files sit on that disk
          this.push(inst, {
            traceId,
            spanId: this.hex(16),
            parentSpanId: spanId,
            name: 'load features (cache miss)',
            kind: SpanKind.INTERNAL,
            startMs: cur,
            durationMs: loadMs,
            status: StatusCode.UNSET,
            statusMessage: '',
            attributes: { 'cache.hit': false },
            exceptionCount: 0,
          });
          cur += loadMs;
        }
        break;
      }
      case 'ranker':
        downstream('model-server', 'POST /v1/models/ctr:predict', true);
        break;
      default:
        break;
    }
    if (!error && this.faulty(inst, t, 'error') && this.rand() < Math.min(0.9, 0.4 * this.severity)) {
      error = true;
      exceptions = 1;
      message = `IndexError: list index out of range (${inst.service} handler)`;
    }
    if (!error && this.faulty(inst, t, 'config') && this.rand() < Math.min(0.9, 0.2 * this.severity)) {
      error = true;
      exceptions = 1;
      message = `ValueError: invalid configuration: top_k=-1 (revision ${CONFIG_REVISION_AFTER})`;
    }
    if (!error) cur += this.selfTime(inst, t) * 0.5;
    const root = parentId === '';
    this.push(inst, {
      traceId,
      spanId,
      parentSpanId: parentId,
      name: root ? 'GET /recommend' : op,
      kind: SpanKind.SERVER,
      startMs: t,
      durationMs: cur - t,
      status: error ? StatusCode.ERROR : StatusCode.UNSET,
      statusMessage: error ? message : '',
      attributes: {
        'http.request.method': root ? 'GET' : 'POST',
        'http.route': (root ? 'GET /recommend' : op).split(' ')[1],
        'http.response.status_code': error ? 500 : 200,
      },
      exceptionCount: exceptions,
    });
    return { endMs: cur, error, message };
  }

  run(): void {
    const end = this.o.startMs + this.o.durationMs;
    const gateway = this.byService.get('gateway')!;
    let t = this.o.startMs + 50 * this.rand();
    while (t < end) {
      const inst = gateway[Math.floor(this.rand() * gateway.length)];
      this.serve(inst, 'GET /recommend', this.hex(32), '', t);
      t += -Math.log(1 - this.rand()) * (1000 / this.o.requestsPerSecond);
    }
    this.spans.sort((a, b) => a.startMs - b.startMs);
  }

  metrics(): MetricPoint[] {
    const out: MetricPoint[] = [];
    const hostCpu = new Map<string, number[]>();
    const hostMem = new Map<string, number>();
    // Disk counters are cumulative, as hosts and SDKs export them: bytes written per process,
    // busy seconds per host device.
    const written = new Map<string, number>();
    const hostBusy = new Map<string, number>();
    const dn = () => {
      const u = 1 - this.diskRand();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.diskRand());
    };
    const n = Math.floor(this.o.durationMs / this.o.metricIntervalMs);
    const faultSpan = Math.max(1, this.o.startMs + this.o.durationMs - this.faultAtMs);
    for (let slot = 0; slot < n; slot++) {
      const t = this.o.startMs + (slot + 1) * this.o.metricIntervalMs; // a gauge reports the interval just ended
      const mid = t - this.o.metricIntervalMs / 2;
      hostCpu.clear();
      hostMem.clear();
      for (const inst of TOPOLOGY) {
        const busy = this.busy.get(inst.instance)?.get(slot) ?? 0;
        let cpu = 0.08 + 0.015 * this.normal() + (4 * busy) / this.o.metricIntervalMs;
        if (this.faulty(inst, mid, 'cpu')) cpu += 0.75 * Math.min(1, this.severity) + 0.03 * this.normal();
        if (this.faulty(inst, mid, 'memory')) cpu += 0.12 + 0.03 * this.normal(); // GC work
        cpu = Math.min(1, Math.max(0.005, cpu));
        let mem = MEMORY_BYTES[inst.service] * (1 + 0.01 * this.normal());
        if (this.faulty(inst, mid, 'memory')) mem += 2.5e9 * this.severity * Math.min(1, (mid - this.faultAtMs) / faultSpan + 0.1);
        const base = { service: inst.service, instance: inst.instance, host: inst.host, labels: {}, timeMs: t };
        out.push({ ...base, name: 'process.cpu.utilization', unit: '1', kind: 'gauge', value: round4(cpu) });
        out.push({ ...base, name: 'process.memory.usage', unit: 'By', kind: 'updowncounter', value: Math.round(mem) });
        let writeRate = 2e5 * (1 + 0.1 * dn());
        if (this.faulty(inst, mid, 'disk')) writeRate += 6e7 * this.severity * (1 + 0.1 * dn()); // a runaway writer: compaction, debug logging
        written.set(inst.instance, (written.get(inst.instance) ?? 1e9) + Math.max(0, writeRate) * (this.o.metricIntervalMs / 1000));
        out.push({ ...base, name: 'process.disk.io', unit: 'By', kind: 'counter', labels: { 'disk.io.direction': 'write' }, value: Math.round(written.get(inst.instance)!) });
        hostCpu.set(inst.host, [...(hostCpu.get(inst.host) ?? []), cpu]);
        hostMem.set(inst.host, (hostMem.get(inst.host) ?? 0) + mem);
      }
      for (const host of hostCpu.keys()) {
        let busy = 0.02 + 0.004 * dn();
        if (TOPOLOGY.some((i) => i.host === host && this.faulty(i, mid, 'disk'))) busy += 0.85 * Math.min(1, this.severity);
        hostBusy.set(host, (hostBusy.get(host) ?? 5e3) + Math.min(1, Math.max(0, busy)) * (this.o.metricIntervalMs / 1000));
        out.push({ service: '', instance: host, host, labels: { 'system.device': 'nvme0n1' }, timeMs: t, name: 'system.disk.operation_time', unit: 's', kind: 'counter', value: round4(hostBusy.get(host)!) });
      }
      for (const [host, cpus] of hostCpu) {
        // Four cores per node; other tenants add a little.
        const util = Math.min(1, 0.05 + 0.01 * this.normal() + cpus.reduce((a, b) => a + b, 0) / 4);
        const base = { service: '', instance: host, host, labels: {}, timeMs: t };
        out.push({ ...base, name: 'system.cpu.utilization', unit: '1', kind: 'gauge', value: round4(util) });
        out.push({ ...base, name: 'system.memory.utilization', unit: '1', kind: 'gauge', value: round4(Math.min(1, 0.2 + hostMem.get(host)! / 16e9)) });
      }
    }
    return out;
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export const DEFAULT_SIM_START_MS = Date.parse('2026-11-20T10:00:00Z');

/** One simulated incident, ready for writeIncident(). */
export function simulateIncident(options: SimulationOptions): IncidentContent {
  const seed = options.seed ?? 1;
  const startMs = options.startMs ?? DEFAULT_SIM_START_MS;
  const durationMs = options.durationMs ?? 4 * 60_000;
  const faultAtMs = startMs + (options.faultAfterMs ?? Math.round(durationMs * 0.6));
  const common = {
    requestsPerSecond: options.requestsPerSecond ?? 2,
    metricIntervalMs: options.metricIntervalMs ?? 10_000,
  };
  if (options.fault && !TOPOLOGY.some((i) => i.service === options.fault!.service && (options.fault!.instance === undefined || i.instance === options.fault!.instance))) {
    throw new Error(`simulate: no ${options.fault.instance ?? 'instance'} of service ${options.fault.service} in the topology`);
  }
  const sim = new Simulator({ ...common, seed, startMs, durationMs, fault: options.fault, faultAtMs });
  sim.run();
  const content: IncidentContent = {
    meta: { id: options.id, system: 'faultline-sim-recsys' },
    spans: sim.spans,
    metrics: sim.metrics(),
  };
  const f = options.fault;
  if (f) {
    const edge = f.fromService ? ` on the edge ${f.fromService} -> ${f.service}` : '';
    content.meta.description = `Simulated ${f.kind} fault in ${f.instance ?? f.service}${edge} from ${new Date(faultAtMs).toISOString()} (seed ${seed}).`;
    if (!options.withoutTruth) {
      const start = new Date(faultAtMs).toISOString();
      content.meta.truth = f.instance ? { service: f.service, instance: f.instance, kind: f.kind, start } : { service: f.service, kind: f.kind, start };
    }
  } else {
    content.meta.description = `Simulated fault-free traffic (seed ${seed}).`;
  }
  if (options.baselineMs) {
    const base = new Simulator({ ...common, seed: seed ^ 0x5eed, startMs: startMs - options.baselineMs, durationMs: options.baselineMs, faultAtMs: Infinity });
    base.run();
    content.baseline = { spans: base.spans, metrics: base.metrics() };
  }
  return content;
}
