// Fault injection inside one demo service. Each fault really happens in the process
// (CPU is burnt, memory is retained, sockets are destroyed); nothing is reported to
// faultline about it: it has to notice from the telemetry alone.

import type { Knobs } from './knobs';

export const DEMO_FAULT_KINDS = ['cpu', 'memory', 'delay', 'loss', 'error', 'config'] as const;
export type DemoFaultKind = (typeof DEMO_FAULT_KINDS)[number];

export interface FaultRequest {
  kind: DemoFaultKind;
  /** Seconds until the fault clears itself (default 120). */
  durationSec?: number;
  /** cpu: busy share 0..1; memory: MB/s leaked; delay: ms added; loss/error: share of requests 0..1; config: the bad value. */
  intensity?: number;
  /** config: the knob to spoil (default: the service's own choice). Ignored by other kinds. */
  target?: string;
}

export interface ActiveFault {
  kind: DemoFaultKind;
  intensity: number;
  target?: string;
  startedAtMs: number;
  endsAtMs: number;
}

export class FaultError extends Error {}

const INTENSITY: Record<DemoFaultKind, { min: number; max: number; default: number }> = {
  cpu: { min: 0.05, max: 0.95, default: 0.8 },
  memory: { min: 0.5, max: 64, default: 6 },
  delay: { min: 1, max: 10_000, default: 150 },
  loss: { min: 0.01, max: 1, default: 0.3 },
  error: { min: 0.01, max: 1, default: 0.5 },
  config: { min: -Infinity, max: Infinity, default: NaN },
};

const MAX_LEAK_BYTES = 600 * 1024 * 1024;

interface Running extends ActiveFault {
  timer: NodeJS.Timeout;
  stop(): void;
}

export class FaultController {
  private readonly active = new Map<DemoFaultKind, Running>();
  /** Retained by the memory fault; released when it ends. */
  private leak: unknown[] = [];
  private leakedBytes = 0;

  constructor(
    private readonly knobs: Knobs,
    private readonly random: () => number = Math.random,
  ) {}

  list(): ActiveFault[] {
    return [...this.active.values()].map(({ kind, intensity, target, startedAtMs, endsAtMs }) => ({ kind, intensity, target, startedAtMs, endsAtMs }));
  }

  /** Validates and starts a fault; a fault of the same kind already running is replaced. */
  start(body: unknown): ActiveFault {
    const req = parseFaultRequest(body, this.knobs);
    this.clear(req.kind);
    const now = Date.now();
    const durationMs = (req.durationSec ?? 120) * 1000;
    const intensity = req.intensity!;
    let stop: () => void = () => {};
    switch (req.kind) {
      case 'cpu':
        stop = this.startCpuHog(intensity);
        break;
      case 'memory':
        stop = this.startLeak(intensity);
        break;
      case 'config': {
        const knob = req.target!;
        const previous = this.knobs.get(knob);
        this.knobs.set({ [knob]: intensity });
        stop = () => {
          // Put the old value back only if no one changed the knob since.
          if (this.knobs.get(knob) === intensity) this.knobs.set({ [knob]: previous });
        };
        break;
      }
      default:
        break; // delay, loss, error act per request (see below)
    }
    const running: Running = {
      kind: req.kind,
      intensity,
      target: req.target,
      startedAtMs: now,
      endsAtMs: now + durationMs,
      stop,
      timer: setTimeout(() => this.clear(req.kind), durationMs),
    };
    running.timer.unref();
    this.active.set(req.kind, running);
    const { timer: _t, stop: _s, ...pub } = running;
    return pub;
  }

  clear(kind?: DemoFaultKind): void {
    for (const [k, f] of this.active) {
      if (kind && k !== kind) continue;
      clearTimeout(f.timer);
      f.stop();
      this.active.delete(k);
    }
  }

  /** loss: destroy this request's socket without an answer. */
  shouldDrop(): boolean {
    const f = this.active.get('loss');
    return !!f && this.random() < f.intensity;
  }

  /** delay: ms to hold the request before it is handled (0 = none), with +-20 % jitter. */
  delayMs(): number {
    const f = this.active.get('delay');
    return f ? f.intensity * (0.8 + 0.4 * this.random()) : 0;
  }

  /** error: the handler fails this request. */
  shouldFail(): boolean {
    const f = this.active.get('error');
    return !!f && this.random() < f.intensity;
  }

  /** Busy-loop slices on the event loop: real CPU use, and requests wait behind them. */
  private startCpuHog(share: number): () => void {
    // Long slices, like a competing thread holding the core: requests wait behind them.
    const periodMs = 50;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      if (stopped) return;
      const busyMs = share * periodMs;
      const until = performance.now() + busyMs;
      let x = 0;
      while (performance.now() < until) for (let i = 0; i < 2000; i++) x += Math.sqrt(i * x + 1);
      sink ^= x | 0;
      timer = setTimeout(tick, Math.max(0, periodMs - busyMs));
    };
    tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }

  /** Retains buffers (RSS) and many small objects (heap, GC marking work) at `mbPerSec`. */
  private startLeak(mbPerSec: number): () => void {
    const everyMs = 200;
    const bytesPerTick = (mbPerSec * 1024 * 1024 * everyMs) / 1000;
    const timer = setInterval(() => {
      if (this.leakedBytes >= MAX_LEAK_BYTES) return;
      const buf = Buffer.alloc(Math.floor(bytesPerTick / 2), 1); // touched pages: RSS grows
      const objs: Array<{ id: number; tag: string; at: number }> = [];
      const n = Math.floor(bytesPerTick / 2 / 64); // ~64 B per small object on the V8 heap
      for (let i = 0; i < n; i++) objs.push({ id: i, tag: 'session-' + i, at: Date.now() });
      this.leak.push(buf, objs);
      this.leakedBytes += bytesPerTick;
    }, everyMs);
    return () => {
      clearInterval(timer);
      this.leak = [];
      this.leakedBytes = 0;
      // A fixed leak gives its memory back, as a restart would: collect now where the process
      // allows it (demo/system.ts starts services with --expose-gc). Otherwise V8 keeps the
      // garbage until some later major GC, and the next fault starts on a heap still full of
      // this one's, whose sudden collection then looks like a change of its own.
      (globalThis as { gc?: () => void }).gc?.();
    };
  }
}

let sink = 0; // keeps the busy loop from being optimised away

export function parseFaultRequest(body: unknown, knobs: Knobs): FaultRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FaultError('body must be a JSON object {"kind": "cpu"|"memory"|"delay"|"loss"|"error"|"config", "durationSec"?, "intensity"?, "target"?}');
  }
  const b = body as Record<string, unknown>;
  if (!DEMO_FAULT_KINDS.includes(b.kind as DemoFaultKind)) {
    throw new FaultError(`kind must be one of ${DEMO_FAULT_KINDS.join(', ')}; got ${JSON.stringify(b.kind)}`);
  }
  const kind = b.kind as DemoFaultKind;
  if (b.durationSec !== undefined && (typeof b.durationSec !== 'number' || !(b.durationSec >= 1 && b.durationSec <= 3600))) {
    throw new FaultError(`durationSec must be a number in [1, 3600]; got ${JSON.stringify(b.durationSec)}`);
  }
  if (b.intensity !== undefined && (typeof b.intensity !== 'number' || !Number.isFinite(b.intensity))) {
    throw new FaultError(`intensity must be a number; got ${JSON.stringify(b.intensity)}`);
  }
  if (b.target !== undefined && typeof b.target !== 'string') throw new FaultError('target must be a string');
  let intensity = b.intensity as number | undefined;
  let target = b.target as string | undefined;
  if (kind === 'config') {
    const specs = knobs.specs;
    target ??= Object.keys(specs).find((k) => specs[k].bad !== undefined);
    if (!target || !specs[target]) {
      throw new FaultError(`config fault: target must name a knob of this service (${Object.keys(specs).join(', ') || 'none'})`);
    }
    const spec = specs[target];
    intensity ??= spec.bad ?? spec.min;
    if (intensity < spec.min || intensity > spec.max) throw new FaultError(`config fault: value ${intensity} for '${target}' is out of bounds [${spec.min}, ${spec.max}]`);
  } else {
    const r = INTENSITY[kind];
    intensity ??= r.default;
    if (intensity < r.min || intensity > r.max) throw new FaultError(`intensity for ${kind} must be in [${r.min}, ${r.max}]; got ${intensity}`);
    target = undefined;
  }
  return { kind, durationSec: b.durationSec as number | undefined, intensity, target };
}
