// A little simulated service for the tuner's tests: real HTTP admin servers on 127.0.0.1
// (port 0) that mimic the demo services' /admin/knobs (clamping and 400s included), and a
// virtual clock whose sleep() writes the spans those instances would have produced into a
// real TelemetryStore, with latency a function of each instance's knobs in effect.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import { HttpKnobApplier } from '../../tuner/appliers';
import { MemoryAuditSink, type AuditSink } from '../../tuner/audit';
import type { TunerConfig } from '../../tuner/config';
import { TunerService } from '../../tuner/service';
import { SpanKind, StatusCode, type Span } from '../../model/telemetry';
import { createRng } from '../../tuner/random';
import type { Config } from '../../tuner/space';

export interface AdminInstance {
  instance: string;
  url: string;
  knobs: Config;
  puts: Config[];
  server: http.Server;
}

export interface AdminRules {
  /** Values above this are silently clamped by the service (as real services do). */
  clampMax?: Record<string, number>;
  /** Values above this are refused with 400. */
  rejectAbove?: Record<string, number>;
  /** Answer GET like the demo services: {generation, knobs: {name: {min, max, integer, value}}}. */
  describe?: Record<string, { min: number; max: number; integer?: boolean }>;
}

export async function startAdmin(instance: string, initial: Config, rules: AdminRules = {}): Promise<AdminInstance> {
  const inst = { instance, knobs: { ...initial }, puts: [] as Config[] } as AdminInstance;
  inst.server = http.createServer((req, res) => {
    if (req.url !== '/admin/knobs') {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'GET') {
      const d = rules.describe;
      const body = d ? { generation: inst.puts.length, knobs: Object.fromEntries(Object.entries(inst.knobs).map(([k, v]) => [k, { ...d[k], value: v }])) } : inst.knobs;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      let values: Config;
      try {
        values = JSON.parse(body) as Config;
      } catch {
        res.writeHead(400).end('{"error":"bad json"}');
        return;
      }
      for (const [k, v] of Object.entries(values)) {
        const lim = rules.rejectAbove?.[k];
        if (lim !== undefined && Number(v) > lim) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `${k} out of bounds` }));
          return;
        }
      }
      inst.puts.push(values);
      for (const [k, v] of Object.entries(values)) {
        const c = rules.clampMax?.[k];
        inst.knobs[k] = c !== undefined && typeof v === 'number' ? Math.min(v, c) : v;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(inst.knobs));
    });
  });
  await new Promise<void>((r) => inst.server.listen(0, '127.0.0.1', () => r()));
  inst.url = `http://127.0.0.1:${(inst.server.address() as AddressInfo).port}`;
  return inst;
}

export async function stopAdmin(...xs: Array<AdminInstance | undefined>): Promise<void> {
  await Promise.all(xs.filter(Boolean).map((x) => new Promise<void>((r) => (x as AdminInstance).server.close(() => r()))));
}

/** Admin endpoints a test starts (push them here); all stopped after each test of the enclosing describe. */
export function adminFleet(): AdminInstance[] {
  const admins: AdminInstance[] = [];
  afterEach(async () => {
    await stopAdmin(...admins.splice(0));
  });
  return admins;
}

export class VirtualWorld {
  now = 1_700_000_000_000;
  readonly store = new TelemetryStore({ windowMs: 3_600_000 });
  /** Requests per second per instance (change it to move the load regime). */
  ratePerS = 50;
  private readonly rng = createRng(7);
  private seq = 0;

  constructor(
    readonly service: string,
    readonly instances: AdminInstance[],
    /** Latency (ms) of a request served at `tMs` by an instance with these knobs; ≥ 0. */
    public latency: (knobs: Config, tMs: number, instance: string) => number,
    public errorRate: (knobs: Config) => number = () => 0,
  ) {}

  clock = (): number => this.now;

  /** Advances virtual time, emitting each instance's requests for the elapsed interval. */
  sleep = async (ms: number): Promise<void> => {
    const end = this.now + ms;
    const spans: Span[] = [];
    for (const inst of this.instances) {
      const n = Math.round((this.ratePerS * ms) / 1000);
      for (let i = 0; i < n; i++) {
        const t = this.now + ((i + this.rng.next()) * ms) / n;
        const base = this.latency(inst.knobs, t - this.now, inst.instance);
        const err = this.rng.next() < this.errorRate(inst.knobs);
        spans.push({
          traceId: (++this.seq).toString(16).padStart(32, '0'),
          spanId: this.seq.toString(16).padStart(16, '0'),
          parentSpanId: '',
          service: this.service,
          instance: inst.instance,
          host: 'h',
          name: 'predict',
          kind: SpanKind.SERVER,
          startMs: t,
          durationMs: base * (1 + 0.1 * this.rng.next()),
          status: err ? StatusCode.ERROR : StatusCode.OK,
          statusMessage: '',
          attributes: {},
          resource: {},
          exceptionCount: 0,
        });
      }
    }
    this.store.consumeSpans(spans);
    this.now = end;
  };
}

/**
 * A TunerService over the world's store and its admin endpoints, after one evaluation window
 * of traffic and a first tick (so it knows its regime), as every tuner test starts.
 */
export async function startTuner(world: VirtualWorld, config: TunerConfig, audit: AuditSink = new MemoryAuditSink()): Promise<TunerService> {
  const applier = new HttpKnobApplier(config.applier.kind === 'http' ? config.applier.targets : []);
  const tuner = new TunerService({ config, telemetry: world.store, applier, audit, clock: world.clock, sleep: (ms) => world.sleep(ms) });
  await world.sleep(config.evaluation.windowMs);
  await tuner.tick();
  return tuner;
}
