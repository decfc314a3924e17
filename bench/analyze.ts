// Times diagnose() on a synthetic window of about one million spans (one core).
//   npx tsx bench/analyze.ts [spans=1000000]
// A 20-service call tree; halfway through, one service's self time triples, so detection,
// localization and evidence all do their full work.

import { buildServiceGraph, diagnose } from '../analyzers';
import { SpanKind, StatusCode } from '../model/telemetry';
import type { Span } from '../model/telemetry';

const target = Number(process.argv[2] ?? 1_000_000);
const SERVICES = Array.from({ length: 20 }, (_, i) => `svc-${i}`);
const FAULTY = 'svc-7';
const t0 = Date.UTC(2026, 10, 20, 10, 0, 0);
const WINDOW_MS = 10 * 60_000;

let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
// Ids as flat strings, as a JSON or protobuf decoder produces them (concatenated ropes
// would make every Map lookup flatten them first).
const idBuf = Buffer.alloc(16);
const hex = (n: number) => {
  for (let i = 0; i < n / 2; i++) idBuf[i] = Math.floor(rand() * 256);
  return idBuf.toString('hex', 0, n / 2);
};

function makeTrace(spans: Span[], start: number, faulty: boolean): void {
  const traceId = hex(32);
  // entry svc-0 -> 3 children among svc-1..6 -> each calls one of svc-7..19
  const span = (service: string, name: string, kind: Span['kind'], parent: string, st: number, dur: number): Span => {
    const s: Span = {
      traceId, spanId: hex(16), parentSpanId: parent, service, instance: `${service}-1`, host: `node-${service.length % 3}`,
      name, kind, startMs: st, durationMs: dur, status: StatusCode.UNSET, statusMessage: '', attributes: {}, resource: {}, exceptionCount: 0,
    };
    spans.push(s);
    return s;
  };
  let t = start + 0.5;
  const root = span('svc-0', 'GET /api', SpanKind.SERVER, '', start, 0);
  for (let c = 0; c < 3; c++) {
    const mid = SERVICES[1 + Math.floor(rand() * 6)];
    const leaf = SERVICES[7 + Math.floor(rand() * 13)];
    const leafSelf = (leaf === FAULTY && faulty ? 3 : 1) * (1 + rand() * 2);
    const midSelf = 0.5 + rand();
    const cl = span('svc-0', `call ${mid}`, SpanKind.CLIENT, root.spanId, t, 0);
    const sv = span(mid, `POST /${mid}`, SpanKind.SERVER, cl.spanId, t + 0.2, 0);
    const cl2 = span(mid, `call ${leaf}`, SpanKind.CLIENT, sv.spanId, t + 0.3, 0);
    const sv2 = span(leaf, `POST /${leaf}`, SpanKind.SERVER, cl2.spanId, t + 0.5, leafSelf);
    cl2.durationMs = sv2.durationMs + 0.4;
    sv.durationMs = cl2.durationMs + midSelf;
    cl.durationMs = sv.durationMs + 0.4;
    t += cl.durationMs + 0.1;
  }
  root.durationMs = t - start;
}

function generate(n: number, from: number, windowMs: number, faultAt: number): Span[] {
  const spans: Span[] = [];
  const traces = Math.ceil(n / 13);
  for (let i = 0; i < traces; i++) {
    const st = from + (i / traces) * windowMs;
    makeTrace(spans, st, st >= faultAt);
  }
  return spans;
}

const spans = generate(target, t0, WINDOW_MS, t0 + WINDOW_MS / 2);
const baseline = generate(Math.min(200_000, target / 5), t0 - 3_600_000, WINDOW_MS, Infinity);
console.log(`window: ${spans.length} spans; baseline: ${baseline.length} spans`);
if (global.gc) global.gc();
// Wall time on a shared machine includes waiting for a core; CPU time (user + system of
// this process) is what the analysis itself costs on one core.
function timed<T>(label: string, f: () => T): T {
  const c = process.cpuUsage();
  const w = performance.now();
  const r = f();
  const cpu = process.cpuUsage(c);
  console.log(`${label}: wall ${(performance.now() - w).toFixed(0)} ms, cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`);
  return r;
}
for (let r = 0; r < 2; r++) {
  const d = timed('diagnose, no baseline', () => diagnose({ fromMs: t0, toMs: t0 + WINDOW_MS, spans, metrics: [] }));
  if (r === 1) console.log(`  -> top ${d.causes[0]?.service} (${d.causes[0]?.kind}), change at +${(((d.anomaly.changeAtMs ?? t0) - t0) / 1000).toFixed(0)} s (injected at +300 s)`);
}
const d2 = timed(`diagnose, ${baseline.length}-span baseline`, () => diagnose({ fromMs: t0, toMs: t0 + WINDOW_MS, spans, metrics: [], baseline: { spans: baseline, metrics: [] } }));
console.log(`  -> top ${d2.causes[0]?.service}`);
const g = timed('buildServiceGraph', () => buildServiceGraph(spans, t0, t0 + WINDOW_MS));
console.log(`  -> ${g.nodes.length} nodes, ${g.edges.length} edges`);
