// A columnar view of a span array: interned services/instances/hosts/operations, parent
// links, children in CSR form and each span's self time. Built once per analysis so the
// scoring loops run over typed arrays instead of allocating per span.

import type { Span } from '../model/telemetry';
import { freshAlloc } from './scratch';
import type { Alloc } from './scratch';
// Local copies of the model's enums: hot loops should not go through module getters.
const K_CLIENT = 3;
const K_CONSUMER = 5;
const K_SERVER = 2;
const S_ERROR = 2;

/** Interns strings to dense ids. */
export class Interner {
  readonly ids = new Map<string, number>();
  readonly names: string[] = [];
  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(s, id);
      this.names.push(s);
    }
    return id;
  }
  get size(): number {
    return this.names.length;
  }
}

export interface SpanIndex {
  spans: Span[];
  n: number;
  services: Interner;
  instances: Interner;
  hosts: Interner;
  /** Operation = service + '\u0000' + span name. */
  ops: Interner;
  opService: number[]; // op id -> service id
  svc: Int32Array;
  inst: Int32Array;
  host: Int32Array;
  op: Int32Array;
  kind: Uint8Array;
  start: Float64Array;
  dur: Float64Array;
  /** 1 when the span reports an error (status ERROR or an exception event). */
  err: Uint8Array;
  /** Index of the parent span, -1 for a root or a parent not in the array. */
  parent: Int32Array;
  childStart: Int32Array; // CSR: children of i are childList[childStart[i] .. childStart[i+1])
  childList: Int32Array;
  self: Float64Array;
  /** Instance id -> host id (last seen). */
  instanceHost: Int32Array;
  /** Where this index's arrays (and arrays derived from it) come from. */
  alloc: Alloc;
}

export function opKey(service: string, name: string): string {
  return service + '\u0000' + name;
}

export function opLabel(key: string): { service: string; name: string } {
  const i = key.indexOf('\u0000');
  return { service: key.slice(0, i), name: key.slice(i + 1) };
}

export function isError(s: Span): boolean {
  return s.status === S_ERROR || s.exceptionCount > 0;
}

/** Where a request enters a service: a SERVER/CONSUMER span, a root, or a span whose parent runs elsewhere. */
export function isEntry(idx: SpanIndex, i: number): boolean {
  const k = idx.kind[i];
  if (k === K_SERVER || k === K_CONSUMER) return true;
  const p = idx.parent[i];
  if (p < 0) return idx.spans[i].parentSpanId === '' || k !== K_CLIENT;
  return idx.svc[p] !== idx.svc[i];
}

export function buildSpanIndex(spans: Span[], interners?: { services?: Interner; ops?: Interner }, alloc: Alloc = freshAlloc): SpanIndex {
  const n = spans.length;
  const services = interners?.services ?? new Interner();
  const ops = interners?.ops ?? new Interner();
  const instances = new Interner();
  const hosts = new Interner();
  const opService: number[] = [];
  const svc = alloc.i32(n), inst = alloc.i32(n), host = alloc.i32(n), op = alloc.i32(n);
  const kind = alloc.u8(n), err = alloc.u8(n);
  const start = alloc.f64(n), dur = alloc.f64(n);
  // Per-service cache of name -> op id avoids building the op key string per span.
  const opCache: Array<Map<string, number>> = [];
  // Spans of one resource usually share the same string objects: compare before hashing.
  let lastSvc = '', lastSvcId = -1, lastInst = '', lastInstId = -1, lastHost = '', lastHostId = -1;
  for (let i = 0; i < n; i++) {
    const s = spans[i];
    let sv = lastSvcId;
    if (s.service !== lastSvc || sv < 0) {
      sv = lastSvcId = services.id(s.service);
      lastSvc = s.service;
    }
    svc[i] = sv;
    if (s.instance !== lastInst || lastInstId < 0) {
      lastInstId = instances.id(s.instance);
      lastInst = s.instance;
    }
    inst[i] = lastInstId;
    if (s.host !== lastHost || lastHostId < 0) {
      lastHostId = hosts.id(s.host);
      lastHost = s.host;
    }
    host[i] = lastHostId;
    let m = opCache[sv];
    if (!m) m = opCache[sv] = new Map();
    let o = m.get(s.name);
    if (o === undefined) {
      o = ops.id(opKey(s.service, s.name));
      m.set(s.name, o);
    }
    op[i] = o;
    opService[o] = sv;
    kind[i] = s.kind;
    start[i] = s.startMs;
    dur[i] = s.durationMs > 0 ? s.durationMs : 0;
    err[i] = s.status === S_ERROR || s.exceptionCount > 0 ? 1 : 0;
  }
  for (let o = 0; o < ops.size; o++) if (opService[o] === undefined) opService[o] = services.id(opLabel(ops.names[o]).service);
  const parent = linkParents(spans, alloc);
  const childCount = alloc.i32(n + 1);
  for (let i = 0; i < n; i++) if (parent[i] >= 0) childCount[parent[i]]++;
  const childStart = alloc.i32(n + 1);
  for (let i = 0; i < n; i++) childStart[i + 1] = childStart[i] + childCount[i];
  const fill = alloc.i32(n);
  fill.set(childStart.subarray(0, n));
  const childList = alloc.i32(childStart[n]);
  for (let i = 0; i < n; i++) {
    const p = parent[i];
    if (p >= 0) childList[fill[p]++] = i;
  }
  const instanceHost = new Int32Array(instances.size);
  for (let i = 0; i < n; i++) instanceHost[inst[i]] = host[i];
  const idx: SpanIndex = {
    spans, n, services, instances, hosts, ops, opService, svc, inst, host, op, kind, start, dur, err,
    parent, childStart, childList, self: alloc.f64(n), instanceHost, alloc,
  };
  computeSelfTimes(idx);
  return idx;
}

// Two independent 32-bit hashes of an id string, without allocating (FNV-1a and a
// multiply-xorshift over the char codes); results in H1/H2 to avoid returning an object.
let H1 = 0, H2 = 0;
function idHash(id: string): void {
  let h1 = 0x811c9dc5, h2 = 0x9e3779b9;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x85ebca6b);
    h2 ^= h2 >>> 13;
  }
  H1 = h1 >>> 0;
  H2 = h2 >>> 0;
}

/**
 * parent[i] = index of span i's parent in the same trace, -1 when it is a root or absent.
 * An open-addressing table keyed by a 64-bit hash of the span id plus a 32-bit hash of the
 * trace id, all in typed arrays: probing never touches the span objects (scattered over the
 * heap, so each touch is a cache miss), and a JS Map over a million id strings costs several
 * times more and churns the garbage collector. A false match needs a 96-bit hash collision.
 */
export function linkParents(spans: Span[], alloc: Alloc = freshAlloc): Int32Array {
  const n = spans.length;
  let cap = 1024;
  while (cap < n * 2) cap *= 2;
  const mask = cap - 1;
  const slot = alloc.i32(cap, -1);
  const s1 = alloc.u32(n), s2 = alloc.u32(n), t1 = alloc.u32(n), p1 = alloc.u32(n), p2 = alloc.u32(n);
  const hasParent = alloc.u8(n);
  for (let i = 0; i < n; i++) {
    const sp = spans[i];
    idHash(sp.spanId);
    s1[i] = H1;
    s2[i] = H2;
    idHash(sp.traceId);
    t1[i] = H1;
    if (sp.parentSpanId) {
      idHash(sp.parentSpanId);
      p1[i] = H1;
      p2[i] = H2;
      hasParent[i] = 1;
    }
  }
  for (let i = 0; i < n; i++) {
    const h = s1[i], g = s2[i], t = t1[i];
    let p = h & mask;
    let dup = false;
    while (slot[p] >= 0) {
      const j = slot[p];
      if (s1[j] === h && s2[j] === g && t1[j] === t) {
        dup = true; // the same span twice: keep the first
        break;
      }
      p = (p + 1) & mask;
    }
    if (!dup) slot[p] = i;
  }
  const parent = alloc.i32(n, -1);
  for (let i = 0; i < n; i++) {
    if (!hasParent[i]) continue;
    const h = p1[i], g = p2[i], t = t1[i];
    let p = h & mask;
    while (slot[p] >= 0) {
      const j = slot[p];
      if (s1[j] === h && s2[j] === g && t1[j] === t) {
        if (j !== i) parent[i] = j;
        break;
      }
      p = (p + 1) & mask;
    }
  }
  return parent;
}

/**
 * Self time = duration minus the union of the children's intervals clipped to the parent.
 * Parallel or overlapping children count once; a child sticking out of its parent (clock
 * skew, async work) only counts for the part inside.
 */
export function computeSelfTimes(idx: SpanIndex): void {
  const { n, start, dur, childStart, childList, self } = idx;
  let bufS = new Float64Array(64), bufE = new Float64Array(64);
  for (let i = 0; i < n; i++) {
    const c0 = childStart[i], c1 = childStart[i + 1];
    const ps = start[i], pe = ps + dur[i];
    if (c0 === c1) {
      self[i] = dur[i];
      continue;
    }
    const m = c1 - c0;
    if (m > bufS.length) {
      bufS = new Float64Array(m * 2);
      bufE = new Float64Array(m * 2);
    }
    let k = 0;
    for (let j = c0; j < c1; j++) {
      const c = childList[j];
      const s = Math.max(start[c], ps), e = Math.min(start[c] + dur[c], pe);
      if (e <= s) continue;
      // insertion sort by start: children lists are short and usually already in order
      let q = k;
      while (q > 0 && bufS[q - 1] > s) {
        bufS[q] = bufS[q - 1];
        bufE[q] = bufE[q - 1];
        q--;
      }
      bufS[q] = s;
      bufE[q] = e;
      k++;
    }
    let covered = 0;
    let curS = -Infinity, curE = -Infinity;
    for (let q = 0; q < k; q++) {
      if (bufS[q] > curE) {
        if (curE > curS) covered += curE - curS;
        curS = bufS[q];
        curE = bufE[q];
      } else if (bufE[q] > curE) curE = bufE[q];
    }
    if (curE > curS) covered += curE - curS;
    const v = dur[i] - covered;
    self[i] = v > 0 ? v : 0;
  }
}
