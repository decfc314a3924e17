// Call-structure change (after Nezha's event-pattern diff, without logs): each span's
// ordered sequence of child calls (a client call named by the operation it reached on the
// server side, repeats collapsed) is compared with the sequences its operation showed in
// normal times. A span whose sequence normal rarely shows has changed; where its sequence
// leaves the closest normal one says where the change came from: the last call that still
// matched returned something (an error, a wrong value) that sent the code another way. When
// it diverges at the first call, the span's own code changed.

import { peerOf } from './graph';
import type { SpanIndex } from './span-index';


export interface StructureChange {
  /** Per after-span: 1 when its call sequence is rare in normal times. */
  changed: Uint8Array;
  /** Suspect service per changed span (-1 when none). */
  suspect: Int32Array;
  /** Suspect counts per service id in the baseline and pre-change phases (leave-one-out rarity) and after. */
  baseCount: Float64Array;
  preCount: Float64Array;
  afterCount: Float64Array;
  baseSpans: number;
  preSpans: number;
  afterSpans: number;
  /** Per service id: the operation of the diverging span most often seen, for evidence. */
  exampleOp: Int32Array;
}

const RARE = 0.01; // a sequence seen in at most 1 % of an operation's normal calls
const MIN_NORMAL = 5;
const MAX_SEQ = 64;
const MAX_DISTINCT = 64;

/**
 * `use[i]`: 0 baseline, 3 before the change, 1 after, 2 ignore (e.g. spans cut by the window
 * edge, whose children fall outside it). 0 and 3 together are "normal".
 */
interface Sequences {
  seqStart: Int32Array;
  flat: Int32Array;
  /** Span index of each element (the child span). */
  childOf: Int32Array;
  suspectOf: Int32Array;
  hash: Float64Array;
}

// Sequences depend only on the spans, not on the phases: diagnose's two passes share them.
const sequenceCache = new WeakMap<SpanIndex, Sequences>();

function sequences(idx: SpanIndex, serverChild: Int32Array): Sequences {
  const cached = sequenceCache.get(idx);
  if (cached) return cached;
  const n = idx.n;
  // Sequence per span as child keys (op ids, client calls replaced by the server op) in
  // start order; stored in one flat buffer. At most one key per child, and every span is
  // the child of at most one parent, so n slots suffice.
  const seqStart = idx.alloc.i32(n + 1);
  const flat = idx.alloc.i32(n);
  const suspectOf = idx.alloc.i32(n); // parallel to flat: the service each key points at
  const childOf = idx.alloc.i32(n);
  let fl = 0;
  let kids = new Int32Array(64);
  const start = idx.start;
  for (let i = 0; i < n; i++) {
    seqStart[i] = fl;
    const c0 = idx.childStart[i], c1 = idx.childStart[i + 1];
    const m = c1 - c0;
    if (m === 0) continue;
    if (m > kids.length) kids = new Int32Array(m * 2);
    // insertion sort by start time: children usually arrive nearly in order
    for (let j = 0; j < m; j++) {
      const c = idx.childList[c0 + j];
      let q = j;
      while (q > 0 && (start[kids[q - 1]] > start[c] || (start[kids[q - 1]] === start[c] && kids[q - 1] > c))) {
        kids[q] = kids[q - 1];
        q--;
      }
      kids[q] = c;
    }
    let prev = -1, len = 0;
    for (let j = 0; j < m && len < MAX_SEQ; j++) {
      const c = kids[j];
      const sc = serverChild[c];
      const k = sc >= 0 ? idx.op[sc] : idx.op[c];
      if (k === prev) continue;
      prev = k;
      flat[fl] = k;
      childOf[fl] = c;
      // The service a call points at: its server side, else the peer it names, else itself.
      let target = sc >= 0 ? idx.svc[sc] : idx.svc[c];
      if (sc < 0 && (idx.kind[c] === 3 || idx.kind[c] === 4)) {
        const peer = peerOf(idx.spans[c]);
        const ps = peer !== undefined ? idx.services.ids.get(peer) : undefined;
        if (ps !== undefined) target = ps;
      }
      suspectOf[fl++] = target;
      len++;
    }
  }
  seqStart[n] = fl;
  const hash = idx.alloc.f64(n);
  for (let i = 0; i < n; i++) {
    let h1 = 0x811c9dc5, h2 = 17;
    for (let q = seqStart[i]; q < seqStart[i + 1]; q++) {
      h1 = Math.imul(h1 ^ (flat[q] + 1), 0x01000193) >>> 0;
      h2 = (Math.imul(h2, 31) + flat[q] + 7) & 0x1fffff;
    }
    hash[i] = h1 + h2 * 4294967296 + (seqStart[i + 1] - seqStart[i]) * 1e-3;
  }
  const seq = { seqStart, flat, childOf, suspectOf, hash };
  sequenceCache.set(idx, seq);
  return seq;
}

/**
 * `use[i]`: 0 baseline, 3 before the change, 1 after, 2 ignore (e.g. spans cut by the window
 * edge, whose children fall outside it). 0 and 3 together are "normal".
 */
export function structureChange(idx: SpanIndex, use: Uint8Array, serverChild: Int32Array): StructureChange {
  const n = idx.n;
  const nS = idx.services.size;
  const { seqStart, flat, childOf, suspectOf, hash } = sequences(idx, serverChild);
  // Normal sequences per operation: counts by hash and a representative span for each.
  const perOp = new Map<number, { total: number; counts: Map<number, number>; reps: number[] }>();
  for (let i = 0; i < n; i++) {
    if (use[i] !== 0 && use[i] !== 3) continue;
    const o = idx.op[i];
    let e = perOp.get(o);
    if (!e) perOp.set(o, (e = { total: 0, counts: new Map(), reps: [] }));
    e.total++;
    const c = e.counts.get(hash[i]);
    if (c === undefined) {
      e.counts.set(hash[i], 1);
      if (e.reps.length < MAX_DISTINCT) e.reps.push(i);
    } else e.counts.set(hash[i], c + 1);
  }
  const changed = idx.alloc.u8(n);
  const suspect = idx.alloc.i32(n, -1);
  const baseCount = new Float64Array(nS), preCount = new Float64Array(nS), afterCount = new Float64Array(nS);
  const exampleVotes = new Map<number, Map<number, number>>();
  let baseSpans = 0, preSpans = 0, afterSpans = 0;
  for (let i = 0; i < n; i++) {
    const u = use[i];
    if (u === 2) continue;
    // A failed call that never reached a server is edge evidence (loss), not a code path.
    if ((idx.kind[i] === 3 || idx.kind[i] === 4) && idx.err[i] && serverChild[i] < 0) continue;
    const e = perOp.get(idx.op[i]);
    if (!e || e.total < MIN_NORMAL) continue;
    const normal = u === 0 || u === 3;
    if (u === 0) baseSpans++;
    else if (u === 3) preSpans++;
    else afterSpans++;
    const c = e.counts.get(hash[i]) ?? 0;
    const rare = normal ? (c - 1) / (e.total - 1) <= RARE : c / e.total <= RARE;
    if (!rare) continue;
    // Closest normal sequence by longest common prefix; ties go to the more common one.
    let bestL = -1, bestC = -1;
    const a0 = seqStart[i], aLen = seqStart[i + 1] - a0;
    for (const r of e.reps) {
      if (r === i) continue;
      const rc = e.counts.get(hash[r]) ?? 0;
      if (normal && hash[r] === hash[i] && rc <= 1) continue;
      const b0 = seqStart[r], bLen = seqStart[r + 1] - b0;
      let l = 0;
      while (l < aLen && l < bLen && flat[a0 + l] === flat[b0 + l]) l++;
      if (l > bestL || (l === bestL && rc > bestC)) {
        bestL = l;
        bestC = rc;
      }
    }
    if (bestL < 0) continue;
    let s = bestL === 0 ? idx.svc[i] : suspectOf[a0 + bestL - 1];
    // Diverging at a call that failed without an answer from the server: the callee (or the
    // way to it) is the suspect, not whatever answered before.
    // A client span's children are the server side of its call: a change there (no server
    // span at all, or another one) is the callee's, or the way to it.
    if ((idx.kind[i] === 3 || idx.kind[i] === 4) && bestL === 0) {
      const sc = serverChild[i];
      const peer = sc >= 0 ? undefined : peerOf(idx.spans[i]);
      const ps = sc >= 0 ? idx.svc[sc] : peer !== undefined ? idx.services.ids.get(peer) : undefined;
      if (ps !== undefined) s = ps;
    } else if (bestL < aLen) {
      const c = childOf[a0 + bestL];
      if (idx.err[c] && serverChild[c] < 0 && (idx.kind[c] === 3 || idx.kind[c] === 4)) {
        const peer = peerOf(idx.spans[c]);
        const ps = peer !== undefined ? idx.services.ids.get(peer) : undefined;
        if (ps !== undefined) s = ps;
      }
    }
    if (u === 0) baseCount[s]++;
    else if (u === 3) preCount[s]++;
    else {
      afterCount[s]++;
      changed[i] = 1;
      suspect[i] = s;
      let m = exampleVotes.get(s);
      if (!m) exampleVotes.set(s, (m = new Map()));
      const key = bestL === 0 ? idx.op[i] : flat[a0 + bestL - 1];
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  const exampleOp = new Int32Array(nS).fill(-1);
  for (const [s, m] of exampleVotes) {
    let best = -1, bestV = 0;
    for (const [k, v] of m) if (v > bestV) [best, bestV] = [k, v];
    exampleOp[s] = best;
  }
  return { changed, suspect, baseCount, preCount, afterCount, baseSpans, preSpans, afterSpans, exampleOp };
}
