// The CLI's own measurements when no faultline telemetry is at hand: an open-loop prober that
// sends requests at a fixed rate to each instance's probe URL and writes one SERVER span per
// request into a TelemetrySink, so the tuner measures it like any other telemetry. The probe
// is also the load: the regime is the probe rate, so run it at the load you want to tune for.

import { randomBytes } from 'node:crypto';
import type { TelemetrySink } from '../model/sink';
import { SpanKind, StatusCode, type Span } from '../model/telemetry';

export interface ProbeTarget {
  instance: string;
  url: string;
}

export interface ProbeOptions {
  service: string;
  targets: ProbeTarget[];
  /** Requests per second per target. */
  ratePerS: number;
  /** Client deadline: slower requests count as errors. */
  timeoutMs?: number;
  method?: 'GET' | 'POST';
  body?: string;
}

export class Prober {
  private timers: NodeJS.Timeout[] = [];
  private inFlight = new Set<Promise<void>>();
  sent = 0;

  constructor(
    private readonly opts: ProbeOptions,
    private readonly sink: TelemetrySink,
  ) {
    if (!(opts.ratePerS > 0)) throw new Error('probe rate must be > 0');
  }

  start(): void {
    const period = 1000 / this.opts.ratePerS;
    for (const t of this.opts.targets) {
      // Batch timers at ≥ 10 ms so high rates do not drown the event loop in timers.
      const tickMs = Math.max(10, period);
      const perTick = tickMs / period;
      let carry = 0;
      const timer = setInterval(() => {
        carry += perTick;
        while (carry >= 1) {
          carry -= 1;
          this.one(t);
        }
      }, tickMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  private one(t: ProbeTarget): void {
    this.sent++;
    const startMs = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    const p = fetch(t.url, {
      method: this.opts.method ?? 'GET',
      body: this.opts.body,
      headers: this.opts.body ? { 'content-type': 'application/json' } : undefined,
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 1000),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        return res.ok ? '' : `HTTP ${res.status}`;
      })
      .catch((e: Error) => e.name === 'TimeoutError' ? 'timeout' : e.message)
      .then((error) => {
        const span: Span = {
          traceId: randomBytes(16).toString('hex'),
          spanId: randomBytes(8).toString('hex'),
          parentSpanId: '',
          service: this.opts.service,
          instance: t.instance,
          host: '',
          name: 'probe',
          kind: SpanKind.SERVER,
          startMs,
          durationMs: performance.now() - t0,
          status: error ? StatusCode.ERROR : StatusCode.OK,
          statusMessage: error,
          attributes: {},
          resource: {},
          exceptionCount: 0,
        };
        this.sink.consumeSpans([span]);
      });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.inFlight]);
  }
}
