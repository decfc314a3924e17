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
import { SpanKind } from '../model/telemetry';
import { peerOf, serverChildOf } from './graph';
import type { MetricSeriesScore } from './metrics';
import { opLabel } from './span-index';
import type { SpanIndex } from './span-index';
import { excessZ, quantileSorted } from './stats';

export type Component = 'latency' | 'errors' | 'edge' | 'structure' | 'traces' | 'metric';

/** How much each kind of evidence weighs in the fused score (absolute scales, see below). */
export const COMPONENT_WEIGHTS: Record<Component, number> = {
  latency: 1.0,
  errors: 1.2,
  edge: 1.0,
  structure: 1.0,
  traces: 0.3,
  metric: 0.7,
};

const Z_MIN = 3; // excess below this many standard errors is not evidence
const MIN_NORMAL = 5; // normal samples needed to judge an operation or edge
const MIN_AFTER = 3;

/** Evidence before ids are assigned (diagnose numbers them). */
export type EvidenceDraft = Omit<Evidence, 'id'> & { component: Component; weight: number };

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
  constructor(nKeys: number, keyOf: Int32Array, valueOf: (i: number) => number, take: (i: number) => boolean) {
    const count = new Int32Array(nKeys + 1);
    const n = keyOf.length;
    for (let i = 0; i < n; i++) if (keyOf[i] >= 0 && take(i)) count[keyOf[i]]++;
    this.start = new Int32Array(nKeys + 1);
    for (let k = 0; k < nKeys; k++) this.start[k + 1] = this.start[k] + count[k];
    const fill = this.start.slice(0, nKeys);
    this.values = new Float64Array(this.start[nKeys]);
    for (let i = 0; i < n; i++) if (keyOf[i] >= 0 && take(i)) this.values[fill[keyOf[i]]++] = valueOf(i);
    for (let k = 0; k < nKeys; k++) this.segment(k).sort();
  }
  segment(k: number): Float64Array {
    return this.values.subarray(this.start[k], this.start[k + 1]);
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
  const q99 = quantileSorted(normal, 0.99);
  return Math.max(q99, med + 4 * (q75 - q25)) + Math.max(0.2, 0.1 * med);
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

export function localize(idx: SpanIndex, phase: Uint8Array, metricScores: MetricSeriesScore[]): LocalizeResult {
  const n = idx.n;
  const svcNames = idx.services.names;
  const accs = new Map<string, Acc>();
  const acc = (service: string): Acc => {
    let a = accs.get(service);
    if (!a) {
      a = {
        service,
        parts: { latency: 0, errors: 0, edge: 0, structure: 0, traces: 0, metric: 0 },
        evidence: [], instanceVotes: new Map(), opVotes: new Map(), virtual: false,
      };
      accs.set(service, a);
    }
    return a;
  };
  const vote = (m: Map<string, number>, k: string, w: number) => m.set(k, (m.get(k) ?? 0) + w);

  // Client spans paired with a server child: their self time is the network/queue gap.
  const serverChild = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const k = idx.kind[i];
    if (k === SpanKind.CLIENT || k === SpanKind.PRODUCER) serverChild[i] = serverChildOf(idx, i);
  }
  const anomalous = new Uint8Array(n); // per span: 1 when it carries evidence (for trace sharing)

  // ---- latency: self time per operation --------------------------------------------------
  const nOps = idx.ops.size;
  const opKeyOf = idx.op;
  const notGap = (i: number) => serverChild[i] < 0 && phase[i] < 2;
  const selfNormal = new Grouped(nOps, opKeyOf, (i) => idx.self[i], (i) => phase[i] === 0 && notGap(i));
  const selfAfter = new Grouped(nOps, opKeyOf, (i) => idx.self[i], (i) => phase[i] === 1 && notGap(i));
  const opThreshold = new Float64Array(nOps).fill(Infinity);
  const latencyShifts: Array<{ op: number; t: TailShift }> = [];
  let totalExcess = 0;
  for (let o = 0; o < nOps; o++) {
    const t = tailShift(selfNormal.segment(o), selfAfter.segment(o));
    if (!t || t.z < Z_MIN || t.excess <= 0) continue;
    opThreshold[o] = tailThreshold(selfNormal.segment(o));
    latencyShifts.push({ op: o, t });
    totalExcess += t.excess;
  }
  for (const { op, t } of latencyShifts) {
    const support = t.excess / totalExcess;
    const s = hm(support, t.confidence);
    const { service, name } = opLabel(idx.ops.names[op]);
    const a = acc(service);
    if (s > a.parts.latency) a.parts.latency = s;
    vote(a.opVotes, name, s);
    a.evidence.push({
      component: 'latency', weight: s, type: 'latency', service, operation: name,
      title: `self time of ${name} rose ${(t.after / Math.max(t.before, 1e-3)).toFixed(1)}x (median ${t.before.toFixed(1)} -> ${t.after.toFixed(1)} ms; ${(t.confidence * 100).toFixed(0)}% of calls above the normal tail)`,
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
  const originSvc = new Int32Array(n).fill(-1);
  const originSpan = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (!idx.err[i] || phase[i] === 2) continue;
    let childFailed = false;
    for (let j = idx.childStart[i]; j < idx.childStart[i + 1]; j++) if (idx.err[idx.childList[j]]) childFailed = true;
    if (childFailed) continue;
    // A timeout: a child that took (almost) all of the parent's time, or outlived it, is
    // what failed; descend to where the time was spent.
    let at = i;
    for (let depth = 0; depth < 32; depth++) {
      let slow = -1;
      const pEnd = idx.start[at] + idx.dur[at];
      for (let j = idx.childStart[at]; j < idx.childStart[at + 1]; j++) {
        const c = idx.childList[j];
        const cEnd = idx.start[c] + idx.dur[c];
        if (idx.dur[c] >= 0.8 * idx.dur[at] || (cEnd > pEnd && idx.dur[at] > 0 && idx.start[c] < pEnd)) slow = c;
      }
      if (slow < 0) break;
      at = slow;
    }
    originSvc[i] = idx.svc[at];
    originSpan[i] = at;
  }
  {
    // Per (service, operation of the origin span): after count vs normal rate.
    const key = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) key[i] = idx.op[i];
    const normalN = new Float64Array(nOps), afterN = new Float64Array(nOps), normalE = new Float64Array(nOps), afterE = new Float64Array(nOps);
    for (let i = 0; i < n; i++) {
      if (phase[i] === 0) normalN[key[i]]++;
      else if (phase[i] === 1) afterN[key[i]]++;
    }
    for (let i = 0; i < n; i++) {
      if (originSvc[i] < 0) continue;
      const o = idx.op[originSpan[i]];
      if (phase[i] === 0) normalE[o]++;
      else if (phase[i] === 1) afterE[o]++;
    }
    const shifts: Array<{ o: number; z: number; excess: number; conf: number; p0: number }> = [];
    let total = 0;
    for (let o = 0; o < nOps; o++) {
      if (afterE[o] === 0) continue;
      const p0 = normalN[o] >= MIN_NORMAL ? normalE[o] / normalN[o] : 0;
      const nA = Math.max(afterN[o], afterE[o]);
      const z = excessZ(afterE[o], nA, Math.max(p0, 0.001));
      const excess = afterE[o] - nA * p0;
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
      a.evidence.push({
        component: 'errors', weight: score, type: 'errors', service, operation: name,
        title: `errors originating in ${name}: ${(s.p0 * 100).toFixed(1)}% -> ${((s.p0 * afterN[s.o] + s.excess) / Math.max(afterN[s.o], 1) * 100).toFixed(1)}% of calls`,
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
    const edgeOf = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      if (phase[i] === 2) continue;
      const k = idx.kind[i];
      if (k !== SpanKind.CLIENT && k !== SpanKind.PRODUCER) continue;
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
    const gNormal = new Grouped(nE, edgeOf, gapOf, (i) => phase[i] === 0);
    const gAfter = new Grouped(nE, edgeOf, gapOf, (i) => phase[i] === 1);
    // Errors on an edge whose server side did not fail (lost connections, resets).
    const errN = new Float64Array(nE), errA = new Float64Array(nE);
    for (let i = 0; i < n; i++) {
      const e = edgeOf[i];
      if (e < 0 || !idx.err[i]) continue;
      const c = serverChild[i];
      if (c >= 0 && idx.err[c]) continue;
      if (phase[i] === 0) errN[e]++;
      else if (phase[i] === 1) errA[e]++;
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
    for (let e = 0; e < nE; e++) {
      const nN = gNormal.segment(e).length, nA = gAfter.segment(e).length;
      if (nA < MIN_AFTER) continue;
      const t = tailShift(gNormal.segment(e), gAfter.segment(e));
      let st = 0;
      if (t && t.z >= Z_MIN && t.excess > 0) {
        st = t.confidence;
        edgeThreshold[e] = tailThreshold(gNormal.segment(e));
        const from = edgeFrom[e], to = edgeTo[e];
        const ev: EvidenceDraft = {
          component: 'edge', weight: st, type: 'edge', service: to, edge: { from, to },
          title: edgeVirtual[e]
            ? `calls ${from} -> ${to} (uninstrumented) slowed: median ${t.before.toFixed(1)} -> ${t.after.toFixed(1)} ms`
            : `network/queue gap ${from} -> ${to} rose: median ${t.before.toFixed(2)} -> ${t.after.toFixed(2)} ms (${(t.confidence * 100).toFixed(0)}% of calls above the normal tail)`,
          before: t.before, after: t.after, unit: 'ms', score: t.z,
        };
        acc(to).evidence.push(ev);
        acc(from).evidence.push({ ...ev, service: from });
      }
      const pN = nN >= MIN_NORMAL ? errN[e] / nN : 0;
      const zErr = excessZ(errA[e], nA, Math.max(pN, 0.001));
      if (zErr >= Z_MIN && errA[e] - nA * pN >= 2) {
        st = Math.max(st, Math.min(1, (errA[e] - nA * pN) / nA + 0.2));
        lossEdges.push({ e, z: zErr, before: pN, after: errA[e] / nA });
      }
      strength[e] = st;
      if (edgeVirtual[e]) acc(edgeTo[e]).virtual = true;
      for (const s of [edgeFrom[e], edgeTo[e]]) {
        const v = inc(s);
        v.total++;
        if (st > 0) {
          v.shifted++;
          v.sum += st;
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
      const score = saturate((v.sum + calleeBonus) * (v.shifted / v.total), 1);
      acc(s).parts.edge = score;
    }
    for (let i = 0; i < n; i++) {
      const e = edgeOf[i];
      if (phase[i] === 1 && e >= 0 && gapOf(i) > edgeThreshold[e]) anomalous[i] = 1;
    }
  }

  // ---- structure: child-call patterns per operation -----------------------------------------
  {
    // Signature of a span = hash of the sorted distinct operations of its children.
    const sig = new Float64Array(n);
    let scratch = new Int32Array(64);
    for (let i = 0; i < n; i++) {
      if (phase[i] === 2) continue;
      const c0 = idx.childStart[i], c1 = idx.childStart[i + 1];
      if (c1 - c0 > scratch.length) scratch = new Int32Array((c1 - c0) * 2);
      let m = 0;
      for (let j = c0; j < c1; j++) scratch[m++] = idx.op[idx.childList[j]];
      const view = scratch.subarray(0, m).sort();
      let h1 = 0x811c9dc5, h2 = 17;
      let prev = -1;
      for (let q = 0; q < m; q++) {
        if (view[q] === prev) continue;
        prev = view[q];
        h1 = Math.imul(h1 ^ (prev + 1), 0x01000193) >>> 0;
        h2 = (Math.imul(h2, 31) + prev + 7) & 0x1fffff;
      }
      sig[i] = h1 + h2 * 4294967296;
    }
    const normalSig = new Map<number, Map<number, number>>();
    const normalTotal = new Float64Array(nOps);
    for (let i = 0; i < n; i++) {
      if (phase[i] !== 0) continue;
      const o = idx.op[i];
      normalTotal[o]++;
      let m = normalSig.get(o);
      if (!m) normalSig.set(o, (m = new Map()));
      m.set(sig[i], (m.get(sig[i]) ?? 0) + 1);
    }
    const RARE = 0.01;
    // rareN: normal spans whose pattern is rare within normal itself (leave-one-out).
    const rareN = new Float64Array(nOps), rareA = new Float64Array(nOps), afterTotal = new Float64Array(nOps);
    const rare = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (phase[i] === 2) continue;
      const o = idx.op[i];
      const tot = normalTotal[o];
      if (tot < MIN_NORMAL) continue;
      const c = normalSig.get(o)?.get(sig[i]) ?? 0;
      if (phase[i] === 0) {
        if ((c - 1) / (tot - 1) <= RARE) rareN[o]++;
      } else {
        afterTotal[o]++;
        if (c / tot <= RARE) rare[i] = 1;
      }
    }
    // Missing-operation patterns: an operation common in normal that vanished is seen at its
    // parent's signature; one that appears is a new child in some signature. Either way the
    // changed span is rare[i]. It originates the change unless a child is itself changed.
    for (let i = 0; i < n; i++) {
      if (!rare[i]) continue;
      let childRare = false;
      for (let j = idx.childStart[i]; j < idx.childStart[i + 1]; j++) {
        const c = idx.childList[j];
        if (rare[c] || (idx.err[c] && originSvc[c] >= 0)) childRare = true;
      }
      if (!childRare) rareA[idx.op[i]]++;
    }
    const shifts: Array<{ o: number; z: number; excess: number; conf: number; p0: number }> = [];
    let total = 0;
    for (let o = 0; o < nOps; o++) {
      if (rareA[o] === 0) continue;
      const p0 = rareN[o] / Math.max(1, normalTotal[o]);
      const z = excessZ(rareA[o], afterTotal[o], Math.max(p0, 0.002));
      const excess = rareA[o] - afterTotal[o] * p0;
      if (z < Z_MIN || excess < 2) continue;
      shifts.push({ o, z, excess, conf: Math.min(1, excess / afterTotal[o]), p0 });
      total += excess;
    }
    for (const s of shifts) {
      const { service, name } = opLabel(idx.ops.names[s.o]);
      const score = hm(s.excess / total, s.conf);
      const a = acc(service);
      if (score > a.parts.structure) a.parts.structure = score;
      vote(a.opVotes, name, score);
      a.evidence.push({
        component: 'structure', weight: score, type: 'traces', service, operation: name,
        title: `call pattern of ${name} changed: ${(s.conf * 100).toFixed(0)}% of calls made child calls not seen normally (or skipped usual ones)`,
        before: s.p0, after: Math.min(1, rareA[s.o] / Math.max(1, afterTotal[s.o])), unit: 'ratio', score: s.z,
      });
    }
    for (let i = 0; i < n; i++) {
      if (rare[i] && phase[i] === 1) {
        anomalous[i] = 1;
        vote(acc(svcNames[idx.svc[i]]).instanceVotes, idx.spans[i].instance, 0.5);
      }
    }
  }

  // ---- traces: which services anomalous traces share -----------------------------------------
  const traceIds = new Map<string, number>();
  const traceOf = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (phase[i] !== 1) continue;
    const t = idx.spans[i].traceId;
    let id = traceIds.get(t);
    if (id === undefined) traceIds.set(t, (id = traceIds.size));
    traceOf[i] = id;
  }
  const nT = traceIds.size;
  const traceAnomalous = new Uint8Array(nT);
  for (let i = 0; i < n; i++) if (anomalous[i] && traceOf[i] >= 0) traceAnomalous[traceOf[i]] = 1;
  {
    const nS = idx.services.size;
    const inTraces = new Float64Array(nS), inAnomalous = new Float64Array(nS);
    const stamp = new Int32Array(nS).fill(-1);
    // Visit spans grouped by trace (CSR by trace id) and count each service once per trace.
    const byTrace = new Grouped(nT, traceOf, (i) => i, () => true);
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
    const s = w * saturate(m.score, 10);
    const a = acc(m.service);
    if (s > a.parts.metric) a.parts.metric = s;
    vote(a.instanceVotes, m.instance, s * 2);
    a.evidence.push({
      component: 'metric', weight: s, type: 'metric', service: m.service, instance: m.instance, series: m.key,
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
    a.parts.metric = Math.min(1, a.parts.metric + 0.2 * saturate(top.score, 10));
    for (const [service, other] of accs) {
      if (service === culprit.service) continue;
      const onHost = [...other.instanceVotes.keys()].some((inst) => idx.instances.ids.has(inst) && idx.hosts.names[idx.instanceHost[idx.instances.ids.get(inst)!]] === host);
      const ownResource = other.evidence.some((e) => e.component === 'metric' && e.type === 'metric' && ['cpu', 'memory', 'disk'].some((c) => (e.series ?? '').toLowerCase().includes(c)));
      if (onHost && !ownResource) other.parts.latency *= 0.4;
    }
  }

  // ---- fuse -------------------------------------------------------------------------------
  const ranked: ServiceScore[] = [];
  for (const a of accs.values()) {
    let score = 0;
    for (const c of Object.keys(COMPONENT_WEIGHTS) as Component[]) score += COMPONENT_WEIGHTS[c] * a.parts[c];
    if (score <= 0) continue;
    ranked.push({ service: a.service, score, parts: a.parts, evidence: a.evidence, instanceVotes: a.instanceVotes, opVotes: a.opVotes, kind: classify(a), virtual: a.virtual });
  }
  ranked.sort((x, y) => y.score - x.score || (x.service < y.service ? -1 : 1));
  return { ranked, pathOf: (service) => propagationPath(idx, phase, anomalous, service) };
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
  if (codeLevel >= network && codeLevel >= resource && codeLevel > 0) return 'error';
  if (network >= resource && network > 0) {
    const loss = a.evidence.some((e) => e.component === 'edge' && e.unit === 'ratio');
    return loss ? 'loss' : 'delay';
  }
  // Resource: the strongest own resource series names the kind.
  let best: EvidenceDraft | undefined;
  for (const e of a.evidence) if (e.component === 'metric' && e.type === 'metric' && (!best || e.weight > best.weight)) best = e;
  if (best) {
    const s = (best.series ?? '').toLowerCase();
    if (/cpu|throttl/.test(s)) return 'cpu';
    if (/mem|heap|rss|gc/.test(s)) return 'memory';
    if (/disk|fs|io|syscall/.test(s)) return 'disk';
    if (/network|net|receive|transmit/.test(s)) return 'delay';
  }
  return 'unknown';
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
