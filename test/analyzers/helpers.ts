// Small builders for hand-made traces: deterministic ids and times, no randomness beyond a
// seeded generator, so each scenario says exactly what it contains.

import type { MetricPoint, Span } from '../../model/telemetry';

export const SERVER = 2 as const;
export const CLIENT = 3 as const;
export const INTERNAL = 1 as const;

let counter = 0;
export function nextId(len: number): string {
  counter++;
  return counter.toString(16).padStart(len, '0');
}

export interface SpanSpec {
  traceId: string;
  parent?: Span;
  service: string;
  name: string;
  kind?: Span['kind'];
  start: number;
  duration: number;
  error?: boolean;
  instance?: string;
  host?: string;
  attributes?: Span['attributes'];
}

export function span(spec: SpanSpec): Span {
  return {
    traceId: spec.traceId,
    spanId: nextId(16),
    parentSpanId: spec.parent ? spec.parent.spanId : '',
    service: spec.service,
    instance: spec.instance ?? `${spec.service}-1`,
    host: spec.host ?? '',
    name: spec.name,
    kind: spec.kind ?? SERVER,
    startMs: spec.start,
    durationMs: spec.duration,
    status: spec.error ? 2 : 0,
    statusMessage: '',
    attributes: spec.attributes ?? {},
    resource: {},
    exceptionCount: 0,
  };
}

/** A client span in `from` and the server span it reached in `to`, `gap` ms apart in total. */
export function call(out: Span[], traceId: string, parent: Span, to: string, start: number, serverDuration: number, gap: number, opts: { error?: boolean; serverError?: boolean; toHost?: string } = {}): Span {
  const client = span({ traceId, parent, service: parent.service, instance: parent.instance, host: parent.host, name: `call ${to}`, kind: CLIENT, start, duration: serverDuration + gap, error: opts.error });
  const server = span({ traceId, parent: client, service: to, host: opts.toHost, name: `handle ${to}`, kind: SERVER, start: start + gap / 2, duration: serverDuration, error: opts.serverError });
  out.push(client, server);
  return server;
}

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
}

export const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);

/**
 * `traces` requests spread evenly over `windowMs`; `build` gets each request's start and
 * whether it falls after `faultAtMs` (relative to T0).
 */
export function scenario(traces: number, windowMs: number, faultAtMs: number, build: (out: Span[], traceId: string, start: number, faulty: boolean, r: () => number) => void, seed = 1): Span[] {
  const out: Span[] = [];
  const r = rng(seed);
  for (let i = 0; i < traces; i++) {
    const start = T0 + (i / traces) * windowMs;
    build(out, nextId(32), start, start - T0 >= faultAtMs, r);
  }
  return out;
}

export function gauge(name: string, service: string, instance: string, host: string, timeMs: number, value: number): MetricPoint {
  return { name, unit: '%', kind: 'gauge', service, instance, host, labels: {}, timeMs, value };
}
