// Root-cause localization: per-service scores from several kinds of evidence, each compared
// between "normal" spans (phase 0: the baseline and/or the part before the change) and
// "after" spans (phase 1). Every score is an excess over what normal already shows, so
// background errors and normal variation cancel out.
//
//   latency    self time per operation above its normal tail (TraceRCA support x confidence
//              on exclusive time, so a caller does not inherit its callee's slowness)
//   errors     errors that originate in a span (its children did not fail); a timeout whose
//              child took the time is credited to the slow child instead
//   edge       client-minus-server gap per caller->callee edge (network delay/loss), credited
//              to the service that the shifted edges have in common
//   structure  child-call patterns of an operation that (dis)appeared vs normal (code-level
//              faults with no status code), credited where the change originates
//   traces     which services the anomalous traces share (support x confidence)
//   metric     BARO robust scores per series (metrics.ts); host series redirect credit to the
//              co-located instance whose own resources moved (noisy neighbour)

import type { Evidence, FaultKind } from '../model/diagnosis';
import { endpointOf, peerOf, serverChildOf } from './graph';
import type { ResourceChange } from './changes';
import type { MetricSeriesScore } from './metrics';
import { isEntry, opLabel } from './span-index';
import { structureChange } from './structure';
import type { SpanIndex } from './span-index';
import type { Alloc } from './scratch';
import { excessZ, quantileSorted } from './stats';
// Local copies of the model's enums: hot loops should not go through module getters.
const K_CLIENT = 3;
const K_PRODUCER = 4;

export type Component = 'latency' | 'errors' | 'edge' | 'structure' | 'traces' | 'metric' | 'change';

/** How much each kind of evidence weighs in the fused score (absolute scales, see below). */
export const COMPONENT_WEIGHTS: Record<Component, number> = {
  latency: 1.0,
  errors: 1.2,
  edge: 1.0,
  structure: 1.0,
  traces: 0.3,
  metric: 0.7,
  change: 1.0,
};

const Z_MIN = 3; // excess below this many standard errors is not evidence
const MIN_NORMAL = 5; // normal samples needed to judge an operation or edge
const MIN_AFTER = 3;
const MIN_EDGE_STRENGTH = 0.15;

/** Evidence before ids are assigned (diagnose numbers them). */
/** `kindWeight`: how strongly a metric series speaks for its category when the kind is named (utilisation not boosted). */
export type EvidenceDraft = Omit<Evidence, 'id'> & { component: Component; weight: number; kindWeight?: number };

export interface ServiceScore {
  service: string;
  score: number;
  parts: Record<Component, number>;
  evidence: EvidenceDraft[];
  instanceVotes: Map<string, number>;
  opVotes: Map<string, number>;
  kind: FaultKind;
  virtual: boolean;
}

export interface LocalizeResult {
  ranked: ServiceScore[];
  /** Per span: 1 when it carries evidence (slow, failing, diverging, delayed edge). */
  anomalous: Uint8Array;
  /** Trace-derived paths from each candidate towards the entry point. */
  pathOf: (service: string) => string[];
}

interface Acc {
  service: string;
  parts: Record<Component, number>;
  evidence: EvidenceDraft[];
  instanceVotes: Map<string, number>;
  opVotes: Map<string, number>;
  virtual: boolean;
  /** Error score that comes from premature timeouts (the caller's own setting). */
  configVotes: number;
  /** A configuration (not code version) change event of this service is in the window. */
  configChanged: boolean;
}

// Phase-independent per-index arrays, shared by diagnose's passes.
const serverChildCache = new WeakMap<SpanIndex, Int32Array>();

/** For each client/producer span, its child in another service (the server side), else -1. */
function serverChildren(idx: SpanIndex): Int32Array {
  let sc = serverChildCache.get(idx);
  if (sc) return sc;
  sc = idx.alloc.i32(idx.n, -1);
  for (let i = 0; i < idx.n; i++) {
    const k = idx.kind[i];
    if (k === K_CLIENT || k === K_PRODUCER) sc[i] = serverChildOf(idx, i);
  }
  serverChildCache.set(idx, sc);
  return sc;
}

/** How far behind its callers a callee's spans may arrive (OTel's batch span processor sends every 5 s by default, plus the export). */
const EXPORT_LAG_MS = 10_000;

/** The newest end time of each service's spans (by service id) and of all spans: how far each service's data has arrived. */
const newestEndCache = new WeakMap<SpanIndex, { bySvc: Float64Array; all: number }>();
function newestEnds(idx: SpanIndex): { bySvc: Float64Array; all: number } {
  let r = newestEndCache.get(idx);
  if (r) return r;
  const bySvc = new Float64Array(idx.services.size).fill(-Infinity);
  let all = -Infinity;
  for (let i = 0; i < idx.n; i++) {
    const end = idx.start[i] + idx.dur[i];
    if (end > bySvc[idx.svc[i]]) bySvc[idx.svc[i]] = end;
    if (end > all) all = end;
  }
  r = { bySvc, all };
  newestEndCache.set(idx, r);
  return r;
}

/** Index of each span's topmost present ancestor (a trace, as a connected component). */
const traceRootCache = new WeakMap<SpanIndex, Int32Array>();
function traceRoots(idx: SpanIndex): Int32Array {
  let top = traceRootCache.get(idx);
  if (top) return top;
  const n = idx.n;
  top = idx.alloc.i32(n, -1);
  for (let i = 0; i < n; i++) {
    if (top[i] >= 0) continue;
    let r = i;
    while (idx.parent[r] >= 0 && top[r] < 0) r = idx.parent[r];
    const root = top[r] >= 0 ? top[r] : r;
    for (let j = i; j !== r && top[j] < 0; j = idx.parent[j]) top[j] = root;
    top[r] = root;
  }
  traceRootCache.set(idx, top);
  return top;
}

function hm(a: number, b: number): number {
  return a > 0 && b > 0 ? (2 * a * b) / (a + b) : 0;
}

function saturate(x: number, scale: number): number {
  return 1 - Math.exp(-x / scale);
}

/** Segments of values grouped by a key, each segment sorted ascending (CSR layout). */
class Grouped {
  readonly start: Int32Array;
  readonly values: Float64Array;
  private readonly sorted: Uint8Array;
  /** Segments are sorted on first use, so groups only counted (after-change samples) cost no sort. */
  constructor(nKeys: number, keyOf: Int32Array, valueOf: (i: number) => number, take: (i: number) => boolean, alloc: Alloc) {
    const count = new Int32Array(nKeys + 1);
    const n = keyOf.length;
    for (let i = 0; i < n; i++) if (keyOf[i] >= 0 && take(i)) count[keyOf[i]]++;
    this.start = new Int32Array(nKeys + 1);
    for (let k = 0; k < nKeys; k++) this.start[k + 1] = this.start[k] + count[k];
    const fill = this.start.slice(0, nKeys);
    this.values = alloc.f64(this.start[nKeys]);
    for (let i = 0; i < n; i++) if (keyOf[i] >= 0 && take(i)) this.values[fill[keyOf[i]]++] = valueOf(i);
    this.sorted = new Uint8Array(nKeys);
  }
  size(k: number): number {
    return this.start[k + 1] - this.start[k];
  }
  /** The segment of key k, sorted ascending. */
  segment(k: number): Float64Array {
    const seg = this.values.subarray(this.start[k], this.start[k + 1]);
    if (!this.sorted[k]) {
      seg.sort();
      this.sorted[k] = 1;
    }
    return seg;
  }
}

/** Count of sorted values strictly above t. */
function countAbove(a: Float64Array, t: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return a.length - lo;
}

/** Threshold above which a value is abnormally high for a normal sample (sorted). */
function tailThreshold(normal: Float64Array): number {
  const med = quantileSorted(normal, 0.5);
  const q75 = quantileSorted(normal, 0.75), q25 = quantileSorted(normal, 0.25);
  const robustTail = med + 4 * (q75 - q25);
  // The 99th percentile only means something with enough samples; in a small sample it is
  // the maximum, and one early faulty call in the "normal" part would hide all the others.
  const tail = normal.length >= 100 ? Math.max(quantileSorted(normal, 0.99), robustTail) : robustTail;
  return tail + Math.max(0.2, 0.1 * med);
}

/** Phases: 0 baseline recording, 3 window before the change, 1 after the change, 2 ignored. */
export const PHASE = { BASELINE: 0, AFTER: 1, IGNORED: 2, PRE: 3 } as const;
const isNormal = (p: number) => p === 0 || p === 3;

/**
 * Expected rate of an event after the change. The window's own pre-change part is the
 * closest normal (same load, same hour), so it leads; the baseline recording is a prior
 * worth up to 20 observations. Signals that were already there before the change (drift
 * between the baseline and today, constant background errors) therefore cancel out. Both
 * start from the event's nominal rate (1 % for "beyond the normal tail", whose threshold is
 * about the 99th percentile), worth 10 observations, so one outlier among six normal calls
 * does not make a 17 % "normal" rate.
 */
function expectedRate(kB: number, nB: number, kP: number, nP: number, floor: number, nominal = 0.01): number {
  const PRIOR_N = 10;
  const pB = (kB + nominal * PRIOR_N) / (nB + PRIOR_N);
  const a = Math.min(20, nB + PRIOR_N);
  const p = (kP + a * pB) / (nP + a);
  return Math.max(floor, p);
}

/** Per-key counts of "exceeds" in each phase. */
class PhaseCounts {
  kB: Float64Array; nB: Float64Array; kP: Float64Array; nP: Float64Array; kA: Float64Array; nA: Float64Array;
  constructor(size: number) {
    this.kB = new Float64Array(size); this.nB = new Float64Array(size);
    this.kP = new Float64Array(size); this.nP = new Float64Array(size);
    this.kA = new Float64Array(size); this.nA = new Float64Array(size);
  }
  add(key: number, phase: number, hit: boolean): void {
    if (phase === 0) { this.nB[key]++; if (hit) this.kB[key]++; }
    else if (phase === 3) { this.nP[key]++; if (hit) this.kP[key]++; }
    else if (phase === 1) { this.nA[key]++; if (hit) this.kA[key]++; }
  }
  expected(key: number, floor: number, nominal = 0.01): number {
    return expectedRate(this.kB[key], this.nB[key], this.kP[key], this.nP[key], floor, nominal);
  }
  normalRate(key: number): number {
    const n = this.nB[key] + this.nP[key];
    return n > 0 ? (this.kB[key] + this.kP[key]) / n : 0;
  }
}

interface TailShift {
  z: number;
  excess: number; // abnormal count beyond what normal predicts
  confidence: number; // excess / after count
  before: number; // normal median
  after: number; // after median
  nAfter: number;
}

function tailShift(normal: Float64Array, after: Float64Array): TailShift | undefined {
  if (normal.length < MIN_NORMAL || after.length < MIN_AFTER) return undefined;
  const thr = tailThreshold(normal);
  const p0 = Math.max(0.002, countAbove(normal, thr) / normal.length);
  const k = countAbove(after, thr);
  const z = excessZ(k, after.length, p0);
  const excess = k - after.length * p0;
  return {
    z, excess, confidence: Math.max(0, excess / after.length),
    before: quantileSorted(normal, 0.5), after: quantileSorted(after, 0.5), nAfter: after.length,
  };
}

/**
 * `phase[i]`: 0 normal, 1 after the change, 2 ignored. `cut[i]`: 1 for spans that end at the
 * edge of their recording (their children may be missing), left out of structure checks.
 */
export function localize(
  idx: SpanIndex, phase: Uint8Array, cut: Uint8Array, metricScores: MetricSeriesScore[],
  options: {
    flagsOnly?: boolean;
    changes?: ResourceChange[];
    /** When the behaviour changed, and how closely that is known: a change event alone counts as much as it coincides with it. */
    onset?: { atMs: number; toleranceMs: number };
  } = {},
): LocalizeResult {
  const n = idx.n;
  const svcNames = idx.services.names;
  const accs = new Map<string, Acc>();
  const acc = (service: string): Acc => {
    let a = accs.get(service);
    if (!a) {
      a = {
        service,
        parts: { latency: 0, errors: 0, edge: 0, structure: 0, traces: 0, metric: 0, change: 0 },
        evidence: [], instanceVotes: new Map(), opVotes: new Map(), virtual: false, configVotes: 0, configChanged: false,
      };
      accs.set(service, a);
    }
    return a;
  };
  const vote = (m: Map<string, number>, k: string, w: number) => m.set(k, (m.get(k) ?? 0) + w);

  // Client spans paired with a server child: their self time is the network/queue gap.
  const serverChild = serverChildren(idx);
  const anomalous = idx.alloc.u8(n); // per span: 1 when it carries evidence (for trace sharing)

  // ---- latency: self time per operation --------------------------------------------------
  const nOps = idx.ops.size;
  const opKeyOf = idx.op;
  const notGap = (i: number) => serverChild[i] < 0 && phase[i] !== 2;
  const selfNormal = new Grouped(nOps, opKeyOf, (i) => idx.self[i], (i) => isNormal(phase[i]) && notGap(i), idx.alloc);
  const selfAfter = new Grouped(nOps, opKeyOf, (i) => idx.self[i], (i) => phase[i] === 1 && notGap(i), idx.alloc);
  const opThreshold = new Float64Array(nOps).fill(Infinity);
  for (let o = 0; o < nOps; o++) {
    if (selfNormal.size(o) >= MIN_NORMAL && selfAfter.size(o) >= MIN_AFTER) opThreshold[o] = tailThreshold(selfNormal.segment(o));
  }
  const latCounts = new PhaseCounts(nOps);
  for (let i = 0; i < n; i++) if (notGap(i)) latCounts.add(idx.op[i], phase[i], idx.self[i] > opThreshold[idx.op[i]]);
  const latencyShifts: Array<{ op: number; z: number; excess: number; conf: number; before: number; after: number }> = [];
  let totalExcess = 0;
  for (let o = 0; o < nOps; o++) {
    if (opThreshold[o] === Infinity) continue;
    const nA = latCounts.nA[o], kA = latCounts.kA[o];
    const p0 = latCounts.expected(o, 0.002);
    const z = excessZ(kA, nA, p0);
    const excess = kA - nA * p0;
    if (z < Z_MIN || excess <= 0) continue;
    latencyShifts.push({ op: o, z, excess, conf: excess / nA, before: quantileSorted(selfNormal.segment(o), 0.5), after: quantileSorted(selfAfter.segment(o), 0.5) });
    totalExcess += excess;
  }
  for (const t of latencyShifts) {
    // Support x confidence, scaled by how far the median moved (x2 -> 1.7, x10 -> 3.3).
    const s = hm(t.excess / totalExcess, t.conf) * (1 + Math.log(Math.max(1, t.after / Math.max(t.before, 1e-3))));
    const { service, name } = opLabel(idx.ops.names[t.op]);
    const a = acc(service);
    if (s > a.parts.latency) a.parts.latency = s;
    vote(a.opVotes, name, s);
    a.evidence.push({
      component: 'latency', weight: s, type: 'latency', service, operation: name,
      title: `self time of ${name}: median ${t.before.toFixed(2)} -> ${t.after.toFixed(2)} ms; ${(t.conf * 100).toFixed(0)}% more calls than normal above the normal tail`,
      before: t.before, after: t.after, unit: 'ms', score: t.z,
    });
  }
  for (let i = 0; i < n; i++) {
    if (phase[i] === 1 && notGap(i) && idx.self[i] > opThreshold[idx.op[i]]) {
      anomalous[i] = 1;
      vote(acc(svcNames[idx.svc[i]]).instanceVotes, idx.spans[i].instance, 1);
    }
  }

  // ---- errors that originate --------------------------------------------------------------
  // origin[i]: the service credited for span i's error (-1: no error or propagated).
  const originSvc = idx.alloc.i32(n, -1);
  const originSpan = idx.alloc.i32(n, -1);
  // 1 when span i failed by timing out although the callee answered in its normal time: the
  // caller's own timeout is too short (a configuration fault), not the callee's doing.
  const premature = idx.alloc.u8(n);
  // 1 when span i failed because a call in it ran out of time (slow callee or short timeout).
  const timedOut = idx.alloc.u8(n);
  for (let i = 0; i < n; i++) {
    if (!idx.err[i] || phase[i] === 2) continue;
    let childFailed = false;
    for (let j = idx.childStart[i]; j < idx.childStart[i + 1]; j++) if (idx.err[idx.childList[j]]) childFailed = true;
    if (childFailed) continue;
    // A timeout: a child that outlived the parent (cut off), or took (almost) all of its time
    // where the wait was a call (a client span, or a call without client instrumentation whose
    // child is the callee's server span), is where the time went; descend to it. A span that
    // waited on calls that succeeded and then failed did so itself (its own error).
    let at = i;
    for (let depth = 0; depth < 32; depth++) {
      let slow = -1;
      const pEnd = idx.start[at] + idx.dur[at];
      const atIsCall = idx.kind[at] === K_CLIENT || idx.kind[at] === K_PRODUCER;
      for (let j = idx.childStart[at]; j < idx.childStart[at + 1]; j++) {
        const c = idx.childList[j];
        const cEnd = idx.start[c] + idx.dur[c];
        const cutOff = cEnd > pEnd && idx.dur[at] > 0 && idx.start[c] < pEnd;
        const waitedOnCall = atIsCall || idx.svc[c] !== idx.svc[at];
        if (cutOff || (idx.dur[c] >= 0.8 * idx.dur[at] && waitedOnCall)) slow = c;
      }
      if (slow < 0) break;
      at = slow;
    }
    if (at !== i) {
      timedOut[i] = 1;
      // Only a callee that was slow for its own operation takes the blame; one answering in
      // its normal time means the caller gave up too early.
      if (idx.self[at] > opThreshold[idx.op[at]] || opThreshold[idx.op[at]] === Infinity) {
        originSvc[i] = idx.svc[at];
        originSpan[i] = at;
      } else {
        premature[i] = 1;
        originSvc[i] = idx.svc[i];
        originSpan[i] = i;
      }
      continue;
    }
    // A failed call whose server side did not fail (or never answered): a lost connection,
    // edge evidence for the callee (below), not an error of the caller's code.
    const k = idx.kind[i];
    if ((k === K_CLIENT || k === K_PRODUCER) && (serverChild[i] >= 0 || peerOf(idx.spans[i]) !== undefined)) continue;
    originSvc[i] = idx.svc[i];
    originSpan[i] = i;
  }
  {
    // Per operation of the origin span: errors after the change vs the expected rate.
    const errCounts = new PhaseCounts(nOps);
    // Denominator: calls of the operation; numerator: errors credited to it.
    for (let i = 0; i < n; i++) errCounts.add(idx.op[i], phase[i], false);
    for (let i = 0; i < n; i++) {
      if (originSvc[i] < 0) continue;
      const o = idx.op[originSpan[i]];
      const ph = phase[i];
      if (ph === 0) errCounts.kB[o]++;
      else if (ph === 3) errCounts.kP[o]++;
      else if (ph === 1) errCounts.kA[o]++;
    }
    const afterN = errCounts.nA;
    const prematureA = new Float64Array(nOps);
    for (let i = 0; i < n; i++) if (premature[i] && phase[i] === 1) prematureA[idx.op[i]]++;
    const shifts: Array<{ o: number; z: number; excess: number; conf: number; p0: number }> = [];
    let total = 0;
    for (let o = 0; o < nOps; o++) {
      const kA = errCounts.kA[o];
      if (kA === 0) continue;
      const nA = Math.max(afterN[o], kA);
      const p0 = Math.min(1, errCounts.expected(o, 0, 0));
      const z = excessZ(kA, nA, Math.max(p0, 0.001));
      const excess = kA - nA * p0;
      if (z < Z_MIN || excess < 2) continue;
      shifts.push({ o, z, excess, conf: Math.min(1, excess / nA), p0 });
      total += excess;
    }
    for (const s of shifts) {
      const { service, name } = opLabel(idx.ops.names[s.o]);
      const score = hm(s.excess / total, Math.max(s.conf, 0.05));
      const a = acc(service);
      if (score > a.parts.errors) a.parts.errors = score;
      vote(a.opVotes, name, score);
      const early = prematureA[s.o] / Math.max(1, errCounts.kA[s.o]);
      if (early > 0.5) a.configVotes += score;
      a.evidence.push({
        component: 'errors', weight: score, type: 'errors', service, operation: name,
        title: early > 0.5
          ? `${name} times out although the callee answers in its normal time: ${(s.p0 * 100).toFixed(1)}% -> ${((s.p0 * afterN[s.o] + s.excess) / Math.max(afterN[s.o], 1) * 100).toFixed(1)}% of calls fail (timeout too short?)`
          : `errors originating in ${name}: ${(s.p0 * 100).toFixed(1)}% -> ${((s.p0 * afterN[s.o] + s.excess) / Math.max(afterN[s.o], 1) * 100).toFixed(1)}% of calls`,
        before: s.p0, after: Math.min(1, (s.p0 * afterN[s.o] + s.excess) / Math.max(afterN[s.o], 1)), unit: 'ratio', score: s.z,
      });
    }
    for (let i = 0; i < n; i++) {
      if (phase[i] !== 1 || originSvc[i] < 0) continue;
      const at = originSpan[i];
      anomalous[at] = 1;
      vote(acc(svcNames[idx.svc[at]]).instanceVotes, idx.spans[at].instance, 1);
    }
  }

  // ---- edges: client minus server gap, and calls to uninstrumented peers --------------------
  {
    const edgeIds = new Map<string, number>();
    const edgeFrom: string[] = [], edgeTo: string[] = [], edgeVirtual: boolean[] = [];
    const edgeOf = idx.alloc.i32(n, -1);
    for (let i = 0; i < n; i++) {
      if (phase[i] === 2) continue;
      const k = idx.kind[i];
      if (k !== K_CLIENT && k !== K_PRODUCER) continue;
      const c = serverChild[i];
      const from = svcNames[idx.svc[i]];
      let to: string | undefined, virtual = false;
      if (c >= 0) to = svcNames[idx.svc[c]];
      else {
        to = peerOf(idx.spans[i]);
        virtual = true;
      }
      if (to === undefined || to === from) continue;
      const key = from + '\u0000' + to;
      let e = edgeIds.get(key);
      if (e === undefined) {
        e = edgeFrom.length;
        edgeIds.set(key, e);
        edgeFrom.push(from);
        edgeTo.push(to);
        edgeVirtual.push(virtual);
      }
      edgeOf[i] = e;
    }
    const gapOf = (i: number) => (serverChild[i] >= 0 ? Math.max(0, idx.dur[i] - idx.dur[serverChild[i]]) : idx.dur[i]);
    const nE = edgeFrom.length;
    const gNormal = new Grouped(nE, edgeOf, gapOf, (i) => isNormal(phase[i]), idx.alloc);
    const gAfter = new Grouped(nE, edgeOf, gapOf, (i) => phase[i] === 1, idx.alloc);
    const thresholds = new Float64Array(nE).fill(Infinity);
    for (let e = 0; e < nE; e++) if (gNormal.size(e) >= MIN_NORMAL) thresholds[e] = tailThreshold(gNormal.segment(e));
    const gapCounts = new PhaseCounts(nE);
    // A failed call with no server span may be a lost call, or one whose server span is still
    // on its way: exporters send in batches, so a callee's spans arrive up to a batch interval
    // after its caller's, and a live diagnosis reads up to the newest data. Such a call counts
    // as lost only if the callee has reported something that ended later, or has been silent
    // for longer than exporters lag (a dead callee).
    const newest = newestEnds(idx);
    const mayBeInFlight = (i: number, callee: string): boolean => {
      const k = idx.services.ids.get(callee); // undefined: an uninstrumented peer, which never reports
      if (k === undefined) return false;
      const calleeNewest = newest.bySvc[k];
      return idx.start[i] + idx.dur[i] > calleeNewest && newest.all - calleeNewest < EXPORT_LAG_MS;
    };
    // Errors on an edge whose server side did not fail (lost connections, resets).
    const lossCounts = new PhaseCounts(nE);
    for (let i = 0; i < n; i++) {
      const e = edgeOf[i];
      if (e < 0) continue;
      gapCounts.add(e, phase[i], gapOf(i) > thresholds[e]);
      const c = serverChild[i];
      lossCounts.add(e, phase[i], idx.err[i] === 1 && !(c >= 0 && idx.err[c]) && !timedOut[i] && !(c < 0 && mayBeInFlight(i, edgeTo[e])));
    }
    const strength = new Float64Array(nE);
    const edgeThreshold = new Float64Array(nE).fill(Infinity);
    const incident = new Map<string, { total: number; shifted: number; sum: number }>();
    const inc = (s: string) => {
      let v = incident.get(s);
      if (!v) incident.set(s, (v = { total: 0, shifted: 0, sum: 0 }));
      return v;
    };
    const lossEdges: Array<{ e: number; z: number; before: number; after: number }> = [];
    // Per edge and callee instance: calls after the change, and those beyond the normal tail.
    const instanceSpecific = new Uint8Array(nE);
    const perInst = new Map<number, Map<number, [number, number]>>();
    {
      for (let i = 0; i < n; i++) {
        const e = edgeOf[i], c = serverChild[i];
        if (e < 0 || c < 0 || phase[i] !== 1 || thresholds[e] === Infinity) continue;
        let m = perInst.get(e);
        if (!m) perInst.set(e, (m = new Map()));
        let cnt = m.get(idx.inst[c]);
        if (!cnt) m.set(idx.inst[c], (cnt = [0, 0]));
        cnt[0]++;
        if (gapOf(i) > thresholds[e]) cnt[1]++;
      }
      for (const [e, m] of perInst) {
        const fr = [...m.values()].filter(([k]) => k >= 5).map(([k, hit]) => hit / k);
        if (fr.length < 2) continue;
        const hi = Math.max(...fr), lo = Math.min(...fr);
        if (hi >= 0.3 && hi > 3 * lo + 0.05) instanceSpecific[e] = 1;
      }
    }
    for (let e = 0; e < nE; e++) {
      const nA = gapCounts.nA[e];
      if (nA < MIN_AFTER) continue;
      let st = 0;
      if (thresholds[e] < Infinity) {
        const p0 = gapCounts.expected(e, 0.002);
        const kA = gapCounts.kA[e];
        const z = excessZ(kA, nA, p0);
        const excess = kA - nA * p0;
        if (z >= Z_MIN && excess > 0) {
          const b0 = quantileSorted(gNormal.segment(e), 0.5), a0 = quantileSorted(gAfter.segment(e), 0.5);
          // Share of calls beyond the normal tail, scaled by how far the median gap moved.
          st = (excess / nA) * (1 + Math.log(Math.max(1, (a0 + 0.05) / (b0 + 0.05))));
          edgeThreshold[e] = thresholds[e];
          const before = quantileSorted(gNormal.segment(e), 0.5), after = quantileSorted(gAfter.segment(e), 0.5);
          const from = edgeFrom[e], to = edgeTo[e];
          const ev: EvidenceDraft = {
            component: 'edge', weight: st, type: 'edge', service: to, edge: { from, to },
            title: edgeVirtual[e]
              ? `calls ${from} -> ${to} (uninstrumented) slowed: median ${before.toFixed(1)} -> ${after.toFixed(1)} ms`
              : `network/queue gap ${from} -> ${to} rose: median ${before.toFixed(2)} -> ${after.toFixed(2)} ms (${((excess / nA) * 100).toFixed(0)}% more calls than normal above the normal tail)`,
            before, after, unit: 'ms', score: z,
          };
          acc(to).evidence.push(ev);
          acc(from).evidence.push({ ...ev, service: from });
        }
      }
      const pL = lossCounts.expected(e, 0.001, 0);
      const kL = lossCounts.kA[e];
      const zErr = excessZ(kL, nA, pL);
      if (zErr >= Z_MIN && kL - nA * pL >= 2) {
        st = Math.max(st, Math.min(1, (kL - nA * pL) / nA + 0.2));
        lossEdges.push({ e, z: zErr, before: lossCounts.normalRate(e), after: kL / nA });
      }
      // A few percent more slow calls is load, not a broken link: it must not make an edge
      // count as shifted (that would dilute the "fraction of my edges that shifted" below).
      if (st < MIN_EDGE_STRENGTH) st = 0;
      strength[e] = st;
      if (edgeVirtual[e]) acc(edgeTo[e]).virtual = true;
    }
    // Which callee instance a shifted edge points at: one vote per slow call it answered.
    for (const [e, m] of perInst) {
      if (strength[e] <= 0) continue;
      for (const [inst, [, slow]] of m) if (slow > 0) vote(acc(edgeTo[e]).instanceVotes, idx.instances.names[inst], slow);
    }
    // A lost call has no server span, so no instance: the endpoint it called says which one,
    // when the calls that were answered on that endpoint were all answered by one instance.
    if (lossEdges.length > 0) {
      const answeredBy = new Map<string, Map<number, number>>();
      for (let i = 0; i < n; i++) {
        const c = serverChild[i];
        if (edgeOf[i] < 0 || c < 0) continue;
        const ep = endpointOf(idx.spans[i]);
        if (ep === undefined) continue;
        let m = answeredBy.get(ep);
        if (!m) answeredBy.set(ep, (m = new Map()));
        m.set(idx.inst[c], (m.get(idx.inst[c]) ?? 0) + 1);
      }
      const lossEdge = new Uint8Array(nE);
      for (const l of lossEdges) lossEdge[l.e] = 1;
      for (let i = 0; i < n; i++) {
        const e = edgeOf[i];
        if (e < 0 || !lossEdge[e] || phase[i] !== 1 || !idx.err[i] || serverChild[i] >= 0 || timedOut[i]) continue;
        const ep = endpointOf(idx.spans[i]);
        const m = ep === undefined ? undefined : answeredBy.get(ep);
        if (!m) continue;
        let total = 0, best = -1, bestN = 0;
        for (const [inst, k] of m) {
          total += k;
          if (k > bestN) [best, bestN] = [inst, k];
        }
        if (bestN >= 0.9 * total) vote(acc(edgeTo[e]).instanceVotes, idx.instances.names[best], 1);
      }
    }
    // Failed calls without a server answer ("unreachable", "reset by peer") point at the peer,
    // unless the caller loses calls to several callees (then its own network is suspect).
    const lossOut = new Map<string, number>();
    for (const l of lossEdges) lossOut.set(edgeFrom[l.e], (lossOut.get(edgeFrom[l.e]) ?? 0) + 1);
    const lossDriven = new Uint8Array(nE);
    for (const l of lossEdges) lossDriven[l.e] = 1;
    for (let e = 0; e < nE; e++) {
      if (gapCounts.nA[e] < MIN_AFTER) continue;
      const st = strength[e];
      // When the caller's calls to the callee's other instances stayed normal, the fault is
      // on the callee instance: the caller keeps no share of this edge.
      let callerShare = st > 0 && instanceSpecific[e] ? 0 : 1;
      if (lossDriven[e] && (lossOut.get(edgeFrom[e]) ?? 0) < 2) callerShare = 0;
      for (const s of [edgeFrom[e], edgeTo[e]]) {
        const v = inc(s);
        v.total++;
        if (st > 0) {
          v.shifted++;
          v.sum += s === edgeFrom[e] ? st * callerShare : st;
        }
      }
    }
    for (const l of lossEdges) {
      const from = edgeFrom[l.e], to = edgeTo[l.e];
      acc(to).evidence.push({
        component: 'edge', weight: strength[l.e], type: 'edge', service: to, edge: { from, to },
        title: `failed calls ${from} -> ${to} whose server side did not fail: ${(l.before * 100).toFixed(1)}% -> ${(l.after * 100).toFixed(1)}%`,
        before: l.before, after: l.after, unit: 'ratio', score: l.z,
      });
    }
    // Credit: the service most of the shifted edges share (callee side weighs a little more,
    // since a delayed or lossy peer is seen by all of its callers).
    for (const [s, v] of incident) {
      if (v.shifted === 0) continue;
      let calleeBonus = 0;
      for (let e = 0; e < nE; e++) if (edgeTo[e] === s && strength[e] > 0) calleeBonus += 0.25 * strength[e];
      const score = (v.sum + calleeBonus) * (v.shifted / v.total);
      acc(s).parts.edge = score;
    }
    for (let i = 0; i < n; i++) {
      const e = edgeOf[i];
      if (phase[i] === 1 && e >= 0 && gapOf(i) > edgeThreshold[e]) anomalous[i] = 1;
    }
  }

  // ---- structure: child-call sequences that changed (structure.ts) ---------------------------
  {
    const use = idx.alloc.u8(n);
    for (let i = 0; i < n; i++) use[i] = cut[i] ? 2 : phase[i];
    const sc = structureChange(idx, use, serverChild);
    // Calls each service received after the change: the denominator of "confidence".
    const calls = new Float64Array(idx.services.size);
    for (let i = 0; i < n; i++) if (phase[i] === 1 && isEntry(idx, i)) calls[idx.svc[i]]++;
    const shifts: Array<{ s: number; z: number; excess: number; expected: number }> = [];
    let total = 0;
    for (let s = 0; s < idx.services.size; s++) {
      const A = sc.afterCount[s];
      if (A === 0) continue;
      const E = sc.afterSpans * expectedRate(sc.baseCount[s], sc.baseSpans, sc.preCount[s], sc.preSpans, 0, 0);
      const z = (A - E) / Math.sqrt(E + 1);
      const excess = A - E;
      if (z < Z_MIN || excess < 2) continue;
      shifts.push({ s, z, excess, expected: E });
      total += excess;
    }
    for (const sh of shifts) {
      const service = svcNames[sh.s];
      const conf = Math.min(1, sh.excess / Math.max(calls[sh.s], sh.excess));
      const score = hm(sh.excess / total, conf);
      const a = acc(service);
      a.parts.structure = score;
      const op = sc.exampleOp[sh.s] >= 0 ? opLabel(idx.ops.names[sc.exampleOp[sh.s]]).name : undefined;
      if (op) vote(a.opVotes, op, score);
      a.evidence.push({
        component: 'structure', weight: score, type: 'traces', service, operation: op,
        title: `call sequences changed right after calls to ${service}${op ? ` (${op})` : ''}: ${sh.excess.toFixed(0)} more diverging requests than normal (${sh.expected.toFixed(1)} expected)`,
        before: sh.expected, after: sh.expected + sh.excess, unit: 'count', score: sh.z,
      });
    }
    for (let i = 0; i < n; i++) {
      if (!sc.changed[i]) continue;
      anomalous[i] = 1;
    }
  }

  if (options.flagsOnly) return { ranked: [], anomalous, pathOf: (service) => [service] };

  // ---- traces: which services anomalous traces share -----------------------------------------
  // Traces as connected components of parent links (no map over trace-id strings).
  const top = traceRoots(idx);
  const traceOf = idx.alloc.i32(n, -1);
  const traceNo = idx.alloc.i32(n, -1);
  let nTraces = 0;
  for (let i = 0; i < n; i++) {
    if (phase[i] !== 1) continue;
    const r = top[i];
    if (traceNo[r] < 0) traceNo[r] = nTraces++;
    traceOf[i] = traceNo[r];
  }
  const nT = nTraces;
  const traceAnomalous = new Uint8Array(nT);
  for (let i = 0; i < n; i++) if (anomalous[i] && traceOf[i] >= 0) traceAnomalous[traceOf[i]] = 1;
  {
    const nS = idx.services.size;
    const inTraces = new Float64Array(nS), inAnomalous = new Float64Array(nS);
    const stamp = new Int32Array(nS).fill(-1);
    // Visit spans grouped by trace (CSR by trace id) and count each service once per trace.
    const byTrace = new Grouped(nT, traceOf, (i) => i, () => true, idx.alloc);
    let nAnomalous = 0;
    for (let t = 0; t < nT; t++) {
      if (traceAnomalous[t]) nAnomalous++;
      const seg = byTrace.segment(t);
      for (let q = 0; q < seg.length; q++) {
        const s = idx.svc[seg[q]];
        if (stamp[s] === t) continue;
        stamp[s] = t;
        inTraces[s]++;
        if (traceAnomalous[t]) inAnomalous[s]++;
      }
    }
    if (nAnomalous > 0) {
      for (let s = 0; s < nS; s++) {
        if (inAnomalous[s] === 0) continue;
        const support = inAnomalous[s] / nAnomalous, confidence = inAnomalous[s] / inTraces[s];
        const jaccard = 1 / (1 / support + 1 / confidence - 1);
        acc(svcNames[s]).parts.traces = jaccard;
      }
    }
  }

  // ---- metrics -----------------------------------------------------------------------------
  const CATEGORY_WEIGHT: Record<string, number> = { cpu: 1, memory: 1, disk: 1, network: 0.6, latency: 0.4, errors: 0.4, throughput: 0.3, other: 0.3 };
  const hostScores = new Map<string, MetricSeriesScore[]>();
  for (const m of metricScores) {
    if (!m.service) {
      if (m.host) {
        const l = hostScores.get(m.host) ?? [];
        l.push(m);
        hostScores.set(m.host, l);
      }
      continue;
    }
    const w = CATEGORY_WEIGHT[m.category] ?? 0.3;
    // Log scale: a series 300 IQRs out is stronger evidence than one 10 out, but not 30x.
    // Utilisation has a natural scale: +80 points of CPU is decisive, +2 points is noise
    // however tight the normal spread was.
    const logScore = Math.min(1.5, Math.log1p(m.score) / Math.log1p(100));
    const s = w * logScore * utilisationFactor(m);
    const a = acc(m.service);
    if (s > a.parts.metric) a.parts.metric = s;
    vote(a.instanceVotes, m.instance, s * 2);
    a.evidence.push({
      // Naming the kind, a series far out of its normal range counts more than a big but
      // ordinary utilisation swing (a leak's GC work also raises CPU by many points).
      component: 'metric', weight: s, kindWeight: w * logScore * Math.min(1, utilisationFactor(m)), type: 'metric', service: m.service, instance: m.instance, series: m.key,
      title: `${m.name} of ${m.instance} ${m.direction > 0 ? 'rose' : 'fell'}: ${fmt(m.before)} -> ${fmt(m.after)}${m.unit ? ' ' + m.unit : ''}`,
      before: m.before, after: m.after, unit: m.unit, score: m.score, points: m.points,
    });
  }
  // Noisy neighbour: a host whose resources moved. The co-located instance whose own
  // resource series moved most gets the host evidence; co-located services that only got
  // slower are victims, so their latency credit shrinks.
  for (const [host, scores] of hostScores) {
    const resource = scores.filter((m) => m.category === 'cpu' || m.category === 'memory' || m.category === 'disk');
    if (resource.length === 0) continue;
    const top = resource[0];
    let culprit: MetricSeriesScore | undefined;
    for (const m of metricScores) {
      if (m.host !== host || !m.service || m.category !== top.category) continue;
      if (!culprit || m.score > culprit.score) culprit = m;
    }
    if (!culprit) continue;
    const a = acc(culprit.service);
    a.evidence.push({
      component: 'metric', weight: 0.2, type: 'host', service: culprit.service, instance: culprit.instance, series: top.key,
      title: `host ${host}: ${top.name} ${fmt(top.before)} -> ${fmt(top.after)}${top.unit ? ' ' + top.unit : ''}; ${culprit.instance} is the co-located instance whose ${top.category} moved most`,
      before: top.before, after: top.after, unit: top.unit, score: top.score, points: top.points,
    });
    a.parts.metric += 0.2 * saturate(top.score, 10);
    // Co-located services that only got slower are victims: their slowness is evidence for
    // the hog (moved to it), not against them.
    for (const [service, other] of accs) {
      if (service === culprit.service || other.parts.latency === 0) continue;
      const onHost = [...other.instanceVotes.keys()].some((inst) => idx.instances.ids.has(inst) && idx.hosts.names[idx.instanceHost[idx.instances.ids.get(inst)!]] === host);
      const ownResource = other.evidence.some((e) => e.component === 'metric' && e.type === 'metric' && /cpu|mem|disk|io|throttl/.test((e.series ?? '').toLowerCase()));
      if (!onHost || ownResource) continue;
      a.parts.latency = Math.max(a.parts.latency, 0.8 * other.parts.latency);
      a.evidence.push({
        component: 'metric', weight: 0.1, type: 'host', service: culprit.service, instance: culprit.instance,
        title: `${service} on the same host (${host}) slowed without a resource change of its own`,
        before: 0, after: other.parts.latency, unit: 'score', score: other.parts.latency,
      });
      other.parts.latency *= 0.3;
    }
  }

  // ---- change events: a new version/config of a service inside the window -----------------
  // Worth something alone for its timing (the data says when it happened), so alone only as
  // much as that timing matches the onset: a change well before it with no symptoms of the
  // service's own (e.g. the push that ended an earlier fault) is not this fault's cause.
  // More when the same service also shows other evidence.
  for (const c of options.changes ?? []) {
    const a = acc(c.service);
    const other = a.parts.latency + a.parts.errors + a.parts.edge + a.parts.structure + a.parts.metric;
    a.parts.change = Math.max(a.parts.change, 0.6 * coincidence(c, options.onset) + 0.4 * Math.min(1, other));
    if (/config|generation|revision/i.test(c.key)) a.configChanged = true;
    vote(a.instanceVotes, c.instance, 2);
    a.evidence.push({
      component: 'change', weight: 2, type: 'traces', service: c.service, instance: c.instance, series: c.key,
      title: `${c.instance}: resource attribute ${c.key} changed ${c.before} -> ${c.after} at ${new Date(c.atMs).toISOString()}`,
      before: 0, after: 1, unit: 'change', score: 10,
    });
  }

  // ---- fuse -------------------------------------------------------------------------------
  // A service seen with one instance only: that is the instance, whatever the evidence.
  const onlyInstance = new Int32Array(svcNames.length).fill(-2); // per service: its instance, -1 several, -2 none
  for (let i = 0; i < n; i++) {
    const known = onlyInstance[idx.svc[i]];
    if (known === -2) onlyInstance[idx.svc[i]] = idx.inst[i];
    else if (known !== idx.inst[i]) onlyInstance[idx.svc[i]] = -1;
  }
  const ranked: ServiceScore[] = [];
  for (const a of accs.values()) {
    let score = 0;
    for (const c of Object.keys(COMPONENT_WEIGHTS) as Component[]) score += COMPONENT_WEIGHTS[c] * a.parts[c];
    if (score <= 0) continue;
    if (a.instanceVotes.size === 0) {
      const sv = idx.services.ids.get(a.service);
      const only = sv === undefined ? -2 : onlyInstance[sv];
      if (only >= 0) vote(a.instanceVotes, idx.instances.names[only], 1);
    }
    ranked.push({ service: a.service, score, parts: a.parts, evidence: a.evidence, instanceVotes: a.instanceVotes, opVotes: a.opVotes, kind: classify(a), virtual: a.virtual });
  }
  ranked.sort((x, y) => y.score - x.score || (x.service < y.service ? -1 : 1));
  return { ranked, anomalous, pathOf: (service) => propagationPath(idx, phase, anomalous, service) };
}

/** For utilisation series (percent or 0..1 ratio): the change in points / 20, within [0.2, 2]; else 1. */
function utilisationFactor(m: MetricSeriesScore): number {
  // OTel's *.utilization gauges are ratios (unit "1", 0..1); others send percent.
  const upToOne = Math.max(Math.abs(m.before), Math.abs(m.after)) <= 1;
  const percent = m.unit === '%' || /usagerate|percent/i.test(m.name) || (/utili[sz]ation/i.test(m.name) && !upToOne);
  const ratio = !percent && (m.unit === '1' || /ratio|utili[sz]ation/i.test(m.name)) && upToOne;
  if (!percent && !ratio) return 1;
  const points = Math.abs(m.after - m.before) * (ratio ? 100 : 1);
  return Math.min(2, Math.max(0.2, points / 20));
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

/** Fault kind from the evidence that carried the score. */
function classify(a: Acc): FaultKind {
  const w = COMPONENT_WEIGHTS;
  const p = a.parts;
  const codeLevel = w.errors * p.errors + w.structure * p.structure;
  const network = w.edge * p.edge;
  const resource = Math.max(w.latency * p.latency, w.metric * p.metric);
  let strongResource: EvidenceDraft | undefined;
  for (const e of a.evidence) {
    if (e.component !== 'metric' || e.type !== 'metric' || e.score < 10 || !/cpu|mem|heap|rss|disk|fs|io|throttl/.test((e.series ?? '').toLowerCase())) continue;
    if (!strongResource || (e.kindWeight ?? e.weight) > (strongResource.kindWeight ?? strongResource.weight)) strongResource = e;
  }
  // A configuration change of the service itself, or timeouts firing while the callee
  // answers in its normal time, with code-level symptoms: the configuration did it. (A new
  // code version with errors stays 'error'.)
  const changeDominates = w.change * p.change >= 0.5 * Math.max(codeLevel, network, resource);
  if (p.change > 0 && (a.configChanged || a.configVotes > 0) && (changeDominates || codeLevel >= Math.max(network, resource))) return 'config';
  if (changeDominates && p.change > 0) return codeLevel > 0 ? 'error' : 'config';
  // Calls to it failing without a server answer: a lossy link or a resetting peer, even when
  // the callers' changed code paths add structure evidence.
  const loss = a.evidence.some((e) => e.component === 'edge' && e.unit === 'ratio' && e.service === a.service && e.edge?.to === a.service);
  // (Callers taking their error path right after the lost calls is the loss's doing, so the
  // structure evidence does not count against it.)
  if (loss && network >= 0.5 * w.errors * p.errors && network >= 0.5 * resource) return 'loss';
  if (codeLevel >= network && codeLevel >= resource && codeLevel > 0) return a.configVotes > 0.5 * p.errors && p.errors >= p.structure ? 'config' : 'error';
  // A starved callee also widens the client-server gap (requests queue before the server
  // span starts): a strong own resource change names the kind.
  if (strongResource && network > 0) {
    const s = (strongResource.series ?? '').toLowerCase();
    return /cpu|throttl/.test(s) ? (heapGrowth(a) ? 'memory' : 'cpu') : /mem|heap|rss/.test(s) ? 'memory' : 'disk';
  }
  if (network >= resource && network > 0) {
    const loss = a.evidence.some((e) => e.component === 'edge' && e.unit === 'ratio');
    return loss ? 'loss' : 'delay';
  }
  // Resource: the strongest own resource series names the kind.
  let best: EvidenceDraft | undefined;
  for (const e of a.evidence) if (e.component === 'metric' && e.type === 'metric' && (!best || (e.kindWeight ?? e.weight) > (best.kindWeight ?? best.weight))) best = e;
  if (best) {
    const s = (best.series ?? '').toLowerCase();
    if (/cpu|throttl/.test(s)) return heapGrowth(a) ? 'memory' : 'cpu';
    if (/mem|heap|rss|gc/.test(s)) return 'memory';
    if (/disk|fs|io|syscall/.test(s)) return 'disk';
    if (/network|net|receive|transmit/.test(s)) return 'delay';
  }
  return 'unknown';
}

/**
 * 1 when the change event's time range (last sighting of the old value to first of the new)
 * is within the onset's tolerance, falling as tolerance / distance beyond it.
 */
function coincidence(c: ResourceChange, onset: { atMs: number; toleranceMs: number } | undefined): number {
  if (!onset || !Number.isFinite(onset.atMs)) return 1;
  const since = Math.min(c.sinceMs ?? c.atMs, c.atMs);
  const distance = onset.atMs < since ? since - onset.atMs : onset.atMs > c.atMs ? onset.atMs - c.atMs : 0;
  return Math.min(1, onset.toleranceMs / Math.max(onset.toleranceMs, distance));
}

/**
 * The service's own memory grew by a fifth or more, beyond its normal range. A managed
 * runtime pays for a growing heap with collection work, so a leak raises CPU too, often by
 * more robust z than the heap itself; a CPU-bound fault does not grow the heap. With both,
 * the memory is the cause and the CPU its symptom.
 */
function heapGrowth(a: Acc): boolean {
  return a.evidence.some((e) => {
    if (e.component !== 'metric' || e.type !== 'metric' || e.score < 3 || !(e.before > 0) || e.after < 1.2 * e.before) return false;
    const name = (e.series ?? '').split('{')[0].toLowerCase();
    return /mem|heap|rss/.test(name) && !/limit|total|avail|free|capacity/.test(name);
  });
}

/** The most common chain of services from an anomalous span of `service` up to its trace's root. */
function propagationPath(idx: SpanIndex, phase: Uint8Array, anomalous: Uint8Array, service: string): string[] {
  const sv = idx.services.ids.get(service);
  if (sv === undefined) return [service];
  const counts = new Map<string, number>();
  let seen = 0;
  for (let i = 0; i < idx.n && seen < 5000; i++) {
    if (phase[i] !== 1 || idx.svc[i] !== sv || !anomalous[i]) continue;
    seen++;
    const chain: number[] = [sv];
    let p = idx.parent[i];
    for (let d = 0; p >= 0 && d < 64; d++) {
      if (idx.svc[p] !== chain[chain.length - 1]) chain.push(idx.svc[p]);
      p = idx.parent[p];
    }
    const key = chain.join(',');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let best = '', bestN = 0;
  for (const [k, c] of counts) if (c > bestN) [best, bestN] = [k, c];
  if (!best) return [service];
  return best.split(',').map((s) => idx.services.names[Number(s)]);
}
