// How much trace evidence do the Nezha code-level faults leave in the faulty service itself?
//   npx tsx bench/nezha-signal.ts [nezhaRoot] [--reference baseline|window]
//
// For every incident, per service: each entry span of the service (its parent is in another
// service, or none) is summarized as the ordered list of what happens inside it (its own
// operations and the operations it reaches in other services). Per entry operation, the
// distribution of those lists after the fault is compared with the fault-free baseline by
// total variation distance (0 = the same behaviour, 1 = nothing in common); a service's
// score is its largest distance over operations seen >= 3 times in both.
// It also prints where the true service ranks on that score, on the median change of its
// entry latency, on its entry-call rate per trace, and on the largest robust change of its
// metric series (3 fault minutes vs the baseline's fault-free minutes, |x - median| / IQR). This is a diagnostic of the data, not
// of the analyzer: it reads the truth, and must never feed anything back into analyzers/.

import * as path from 'node:path';
import type { Span } from '../model/telemetry';
import { listNezhaFaults, loadNezhaIncident } from '../agent/importers/nezha';

interface ServiceProfile {
  signatures: Map<string, Map<string, number>>; // entry op -> signature -> count
  latencies: Map<string, number[]>; // entry op -> durations
  entryCalls: number;
}

function profiles(spans: Span[]): { byService: Map<string, ServiceProfile>; traces: number } {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map<string, Span[]>();
  for (const s of spans) {
    const list = children.get(s.parentSpanId);
    if (list) list.push(s);
    else children.set(s.parentSpanId, [s]);
  }
  const byService = new Map<string, ServiceProfile>();
  const traces = new Set<string>();
  for (const s of spans) {
    traces.add(s.traceId);
    const parent = byId.get(s.parentSpanId);
    if (parent && parent.service === s.service) continue;
    const inside: Span[] = [];
    const stack = [s];
    while (stack.length) {
      const x = stack.pop()!;
      for (const c of children.get(x.spanId) ?? []) {
        inside.push(c);
        if (c.service === s.service) stack.push(c);
      }
    }
    inside.sort((a, b) => a.startMs - b.startMs);
    const signature = inside
      .filter((c) => !c.name.startsWith('HTTP '))
      .map((c) => (c.service === s.service ? c.name : `${c.service}:${c.name}`))
      .join(' > ');
    let p = byService.get(s.service);
    if (!p) byService.set(s.service, (p = { signatures: new Map(), latencies: new Map(), entryCalls: 0 }));
    p.entryCalls++;
    const sigs = p.signatures.get(s.name) ?? new Map<string, number>();
    sigs.set(signature, (sigs.get(signature) ?? 0) + 1);
    p.signatures.set(s.name, sigs);
    const lat = p.latencies.get(s.name) ?? [];
    lat.push(s.durationMs);
    p.latencies.set(s.name, lat);
  }
  return { byService, traces: traces.size };
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function structureDistance(after: ServiceProfile | undefined, before: ServiceProfile | undefined): number {
  if (!after || !before) return 0;
  let worst = 0;
  for (const [op, sigsAfter] of after.signatures) {
    const sigsBefore = before.signatures.get(op);
    if (!sigsBefore) continue;
    const na = total(sigsAfter), nb = total(sigsBefore);
    if (na < 3 || nb < 3) continue;
    let tv = 0;
    for (const sig of new Set([...sigsAfter.keys(), ...sigsBefore.keys()])) {
      tv += Math.abs((sigsAfter.get(sig) ?? 0) / na - (sigsBefore.get(sig) ?? 0) / nb);
    }
    worst = Math.max(worst, tv / 2);
  }
  return worst;
}

function latencyShift(after: ServiceProfile | undefined, before: ServiceProfile | undefined): number {
  if (!after || !before) return 0;
  let worst = 0;
  for (const [op, la] of after.latencies) {
    const lb = before.latencies.get(op);
    if (!lb || la.length < 3 || lb.length < 3) continue;
    worst = Math.max(worst, Math.abs(Math.log(median(la) / median(lb))));
  }
  return worst;
}

function rankOf(scores: Map<string, number>, service: string): number {
  const ordered = [...scores.entries()].sort((a, b) => b[1] - a[1]).map(([s]) => s);
  return ordered.indexOf(service) + 1;
}

const args = process.argv.slice(2);
const useWindowReference = args.includes('--reference') && args[args.indexOf('--reference') + 1] === 'window';
const root = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--reference') ?? path.resolve(__dirname, '../../shared/datasets/nezha-trainticket');
let unchanged = 0, codeLevel = 0;
const ranks: Record<string, number[]> = { structure: [], latency: [], rate: [], metrics: [] };
console.log('incident                                   truth                      own-structure TV  rank(structure) rank(latency) rank(rate) rank(metrics) services');
for (const fault of listNezhaFaults(root)) {
  if (fault.type !== 'exception' && fault.type !== 'return') continue;
  const inc = loadNezhaIncident(root, fault);
  const injectMs = Date.parse(inc.truth.start);
  // Skip the first 20 s: the fault takes effect on requests that start after it.
  const after = profiles(inc.spans.filter((s) => s.startMs >= injectMs + 20_000));
  // The reference: the fault-free baseline recording, or (--reference window) the part of the
  // window before the injection, same day and load; incidents with < 1000 such spans are skipped.
  const preInjection = inc.spans.filter((s) => s.startMs < injectMs);
  if (useWindowReference && preInjection.length < 1000) continue;
  const before = profiles(useWindowReference ? preInjection : inc.baseline?.spans ?? []);
  const services = new Set([...after.byService.keys(), ...before.byService.keys()]);
  const structure = new Map<string, number>(), latency = new Map<string, number>(), rate = new Map<string, number>();
  for (const s of services) {
    const a = after.byService.get(s), b = before.byService.get(s);
    structure.set(s, structureDistance(a, b));
    latency.set(s, latencyShift(a, b));
    const ra = ((a?.entryCalls ?? 0) + 0.5) / Math.max(1, after.traces), rb = ((b?.entryCalls ?? 0) + 0.5) / Math.max(1, before.traces);
    rate.set(s, Math.abs(Math.log(ra / rb)));
  }
  const truth = inc.truth.service;
  const metricShift = new Map<string, number>();
  const normal = new Map<string, number[]>();
  for (const m of inc.baseline?.metrics ?? []) if (m.service) push(normal, `${m.service}|${m.name}`, m.value);
  const changed = new Map<string, number[]>();
  for (const m of inc.metrics) if (m.service && m.timeMs >= injectMs && m.timeMs < injectMs + 180_000) push(changed, `${m.service}|${m.name}`, m.value);
  for (const [key, post] of changed) {
    const pre = (normal.get(key) ?? []).filter(Number.isFinite);
    if (pre.length < 5) continue;
    const sorted = [...pre].sort((a, b) => a - b);
    const mid = median(sorted), iqr = sorted[Math.floor(sorted.length * 0.75)] - sorted[Math.floor(sorted.length * 0.25)];
    const score = Math.max(...post.filter(Number.isFinite).map((v) => Math.abs(v - mid))) / (iqr + Math.abs(mid) * 0.01 + 1e-9);
    const service = key.slice(0, key.indexOf('|'));
    metricShift.set(service, Math.max(metricShift.get(service) ?? 0, Number.isFinite(score) ? score : 0));
  }
  const tv = structure.get(truth) ?? 0;
  codeLevel++;
  if (tv === 0) unchanged++;
  const r = { structure: rankOf(structure, truth), latency: rankOf(latency, truth), rate: rankOf(rate, truth), metrics: rankOf(metricShift, truth) };
  for (const k of Object.keys(r) as Array<keyof typeof r>) ranks[k].push(r[k]);
  console.log(`${inc.id.padEnd(43)}${truth.padEnd(27)}${tv.toFixed(2).padStart(16)}${String(r.structure).padStart(17)}${String(r.latency).padStart(14)}${String(r.rate).padStart(11)}${String(r.metrics).padStart(14)}${String(services.size).padStart(9)}`);
}
function push(m: Map<string, number[]>, k: string, v: number): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}
const top1 = (a: number[]) => a.filter((x) => x === 1).length;
console.log(`\nreference: ${useWindowReference ? 'the window before the injection' : 'the baseline recording'}; code-level incidents: ${codeLevel}; faulty service's own call structure identical to the reference in ${unchanged}`);
for (const [k, a] of Object.entries(ranks)) console.log(`truth ranked first by ${k.padEnd(9)}: ${top1(a)}/${a.length}; median rank ${median(a)}`);
