// Deterministic telemetry of a small recommendation system for the LLM tests and the
// recorded evaluation cases: gateway -> recommend -> {candidates, ranking -> feature-store,
// ranking -> redis (uninstrumented)}, with one fault switched on at changeAtMs.

import type { MetricPoint, Span, Attributes } from '../../model/telemetry';
import { SpanKind, StatusCode } from '../../model/telemetry';
import { prng } from '../../agent/incident/simulate';

export interface RecsysOptions {
  seed: number;
  fromMs: number;
  changeAtMs: number;
  toMs: number;
  traces: number;
  fault?: { service: string; kind: 'delay' | 'error' | 'cpu'; factor: number };
  /** Extra attributes for every server span of a service (e.g. planted secrets). */
  extraAttributes?: (service: string, traceIndex: number) => Attributes;
  statusMessage?: (service: string, traceIndex: number) => string;
}

const hex = (rnd: () => number, n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');

const BASE_SELF_MS: Record<string, number> = { gateway: 2, recommend: 4, candidates: 12, ranking: 18, 'feature-store': 6, redis: 1 };
const INSTANCES: Record<string, string[]> = { gateway: ['gw-1'], recommend: ['rec-1', 'rec-2'], candidates: ['cand-1'], ranking: ['rank-1', 'rank-2'], 'feature-store': ['fs-1'] };

export function makeRecsysTelemetry(o: RecsysOptions): { spans: Span[]; metrics: MetricPoint[] } {
  const rnd = prng(o.seed);
  const spans: Span[] = [];
  const step = (o.toMs - o.fromMs) / o.traces;
  for (let t = 0; t < o.traces; t++) {
    const start = o.fromMs + t * step + rnd() * step * 0.5;
    const traceId = hex(rnd, 32);
    const faulty = o.fault && start >= o.changeAtMs ? o.fault : undefined;
    const pick = (svc: string) => INSTANCES[svc][Math.floor(rnd() * INSTANCES[svc].length)];
    const selfMs = (svc: string) => {
      let ms = BASE_SELF_MS[svc] * (0.8 + rnd() * 0.4);
      if (faulty && faulty.service === svc && faulty.kind !== 'error') ms *= faulty.factor;
      return Math.round(ms * 1000) / 1000;
    };
    const failed = (svc: string) => Boolean(faulty && faulty.kind === 'error' && faulty.service === svc && rnd() < faulty.factor);

    // Build bottom-up durations, then emit top-down with start times.
    type Node = { svc: string; name: string; children: Node[]; clientName?: string; peer?: string; self: number; error: boolean; dur?: number };
    const fs: Node = { svc: 'feature-store', name: 'GET /features', clientName: 'GET /features', children: [], self: selfMs('feature-store'), error: failed('feature-store') };
    const redis: Node = { svc: 'ranking', name: 'redis GET', peer: 'redis', children: [], self: selfMs('redis'), error: false };
    const ranking: Node = { svc: 'ranking', name: 'POST /rank', clientName: 'POST /rank', children: [fs, redis], self: selfMs('ranking'), error: failed('ranking') };
    const cand: Node = { svc: 'candidates', name: 'POST /candidates', clientName: 'POST /candidates', children: [], self: selfMs('candidates'), error: failed('candidates') };
    const rec: Node = { svc: 'recommend', name: 'POST /recommend', clientName: 'POST /recommend', children: [cand, ranking], self: selfMs('recommend'), error: failed('recommend') };
    const gw: Node = { svc: 'gateway', name: 'GET /api/recommend', children: [rec], self: selfMs('gateway'), error: false };
    const total = (n: Node): number => (n.dur = n.self + n.children.reduce((s, c) => s + total(c) + 0.3, 0));
    total(gw);
    const anyErr = (n: Node): boolean => n.error || n.children.some(anyErr);

    const emit = (n: Node, parentId: string, at: number, instance: string) => {
      const id = hex(rnd, 16);
      const err = anyErr(n);
      const attributes: Attributes = n.peer ? { 'db.system': n.peer, 'db.operation': 'GET' } : { 'http.request.method': n.name.split(' ')[0], 'http.route': n.name.split(' ')[1] };
      if (!n.peer && o.extraAttributes) Object.assign(attributes, o.extraAttributes(n.svc, t));
      spans.push({
        traceId,
        spanId: id,
        parentSpanId: parentId,
        service: n.svc,
        instance,
        host: `host-${instance}`,
        name: n.name,
        kind: n.peer ? SpanKind.CLIENT : parentId ? SpanKind.SERVER : SpanKind.SERVER,
        startMs: at,
        durationMs: n.dur!,
        status: err ? StatusCode.ERROR : StatusCode.UNSET,
        statusMessage: err ? (o.statusMessage?.(n.svc, t) ?? (n.error ? 'internal error' : 'downstream error')) : '',
        attributes,
        resource: {},
        exceptionCount: n.error ? 1 : 0,
      });
      let cursor = at + n.self / 2;
      for (const c of n.children) {
        if (c.peer) {
          emit(c, id, cursor, instance);
        } else {
          const clientId = hex(rnd, 16);
          const childInstance = pick(c.svc);
          spans.push({
            traceId,
            spanId: clientId,
            parentSpanId: id,
            service: n.svc,
            instance,
            host: `host-${instance}`,
            name: c.clientName!,
            kind: SpanKind.CLIENT,
            startMs: cursor,
            durationMs: c.dur! + 0.3,
            status: anyErr(c) ? StatusCode.ERROR : StatusCode.UNSET,
            statusMessage: '',
            attributes: { 'server.address': c.svc },
            resource: {},
            exceptionCount: 0,
          });
          emit(c, clientId, cursor + 0.15, childInstance);
        }
        cursor += c.dur! + 0.3;
      }
    };
    emit(gw, '', start, pick('gateway'));
  }

  const metrics: MetricPoint[] = [];
  for (let at = o.fromMs; at < o.toMs; at += 30_000) {
    for (const [svc, insts] of Object.entries(INSTANCES)) {
      for (const inst of insts) {
        let v = 0.25 + rnd() * 0.1;
        if (o.fault?.kind === 'cpu' && o.fault.service === svc && at >= o.changeAtMs) v = Math.min(1, v * o.fault.factor);
        metrics.push({ name: 'process.cpu.utilization', unit: '1', kind: 'gauge', service: svc, instance: inst, host: `host-${inst}`, labels: {}, timeMs: at, value: Math.round(v * 1000) / 1000 });
      }
    }
  }
  return { spans, metrics };
}
