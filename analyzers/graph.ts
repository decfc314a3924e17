// Service call graph from spans: client and server sides paired by parent/child links (not
// addresses), calls to uninstrumented peers as virtual nodes, RED statistics per node and
// edge, and per-operation / per-edge statistics in time buckets.

import type { GraphEdge, GraphNode, RedStats, ServiceGraph } from '../model/graph';
import type { Span } from '../model/telemetry';
import { analysisPool } from './scratch';
import { buildSpanIndex, isEntry, opLabel } from './span-index';
import type { SpanIndex } from './span-index';
import { quantileSorted } from './stats';
// Local copies of the model's enums: hot loops should not go through module getters.
const K_CLIENT = 3;
const K_PRODUCER = 4;

/** Attributes naming the peer of a client span, most specific first. */
const PEER_ATTRIBUTES = ['peer.service', 'server.address', 'net.peer.name', 'db.system'];

export function peerOf(s: Span): string | undefined {
  for (const k of PEER_ATTRIBUTES) {
    const v = s.attributes[k];
    if (typeof v === 'string' && v) return v;
  }
  return undefined;
}

/**
 * The network endpoint a client span called (`server.address:server.port`, or the older
 * `net.peer.name:net.peer.port`), when it names a port: what ties a call that got no answer
 * to the instance that answered earlier calls on the same endpoint.
 */
export function endpointOf(s: Span): string | undefined {
  const a = s.attributes;
  const host = a['server.address'] ?? a['net.peer.name'];
  const port = a['server.port'] ?? a['net.peer.port'];
  return (typeof host === 'string' && host) && (typeof port === 'number' || (typeof port === 'string' && port)) ? `${host}:${port}` : undefined;
}

class Acc {
  durations: number[] = [];
  errors = 0;
  gapSum = 0;
  gapN = 0;
  unpaired = 0;
  add(d: number, err: number): void {
    this.durations.push(d);
    this.errors += err;
  }
  stats(windowSec: number): RedStats {
    const a = Float64Array.from(this.durations).sort();
    const calls = a.length;
    return {
      calls,
      ratePerSec: windowSec > 0 ? calls / windowSec : 0,
      errors: this.errors,
      errorRate: calls ? this.errors / calls : 0,
      p50Ms: calls ? quantileSorted(a, 0.5) : 0,
      p95Ms: calls ? quantileSorted(a, 0.95) : 0,
      p99Ms: calls ? quantileSorted(a, 0.99) : 0,
    };
  }
}

/** For each client span, its server-side child in another service (-1 if none). */
export function serverChildOf(idx: SpanIndex, i: number): number {
  for (let j = idx.childStart[i]; j < idx.childStart[i + 1]; j++) {
    const c = idx.childList[j];
    if (idx.svc[c] !== idx.svc[i]) return c;
  }
  return -1;
}

export function graphFromIndex(idx: SpanIndex, fromMs: number, toMs: number, include?: (i: number) => boolean): ServiceGraph {
  const windowSec = Math.max(0, (toMs - fromMs) / 1000);
  const nodes = new Map<string, { acc: Acc; virtual: boolean; instances: Set<string>; hosts: Set<string> }>();
  const edges = new Map<string, { from: string; to: string; acc: Acc }>();
  const node = (service: string, virtual: boolean) => {
    let n = nodes.get(service);
    if (!n) nodes.set(service, (n = { acc: new Acc(), virtual, instances: new Set(), hosts: new Set() }));
    if (!virtual) n.virtual = false;
    return n;
  };
  const edge = (from: string, to: string) => {
    const key = from + '\u0000' + to;
    let e = edges.get(key);
    if (!e) edges.set(key, (e = { from, to, acc: new Acc() }));
    return e;
  };
  const svcName = idx.services.names;
  for (let i = 0; i < idx.n; i++) {
    if (include && !include(i)) continue;
    const s = idx.spans[i];
    const service = svcName[idx.svc[i]];
    const nd = node(service, false);
    nd.instances.add(s.instance);
    if (s.host) nd.hosts.add(s.host);
    const entry = isEntry(idx, i);
    if (entry) nd.acc.add(idx.dur[i], idx.err[i]);
    const k = idx.kind[i];
    if (k === K_CLIENT || k === K_PRODUCER) {
      const c = serverChildOf(idx, i);
      if (c >= 0) {
        const e = edge(service, svcName[idx.svc[c]]);
        e.acc.add(idx.dur[i], idx.err[i] | idx.err[c]);
        if (k === K_CLIENT) {
          e.acc.gapSum += Math.max(0, idx.dur[i] - idx.dur[c]);
          e.acc.gapN++;
        }
      } else {
        const peer = peerOf(s);
        if (peer !== undefined && peer !== service) {
          node(peer, true);
          const e = edge(service, peer);
          e.acc.add(idx.dur[i], idx.err[i]);
          e.acc.unpaired++;
        }
      }
    } else if (entry) {
      // Called without a client span on the caller's side: the child measures the call.
      const p = idx.parent[i];
      if (p >= 0 && idx.svc[p] !== idx.svc[i] && idx.kind[p] !== K_CLIENT && idx.kind[p] !== K_PRODUCER) {
        edge(svcName[idx.svc[p]], service).acc.add(idx.dur[i], idx.err[i]);
      }
    }
  }
  // Virtual peers get their statistics from the calls made to them.
  for (const e of edges.values()) {
    const to = nodes.get(e.to);
    if (to?.virtual) for (const d of e.acc.durations) to.acc.add(d, 0);
    if (to?.virtual) to.acc.errors += e.acc.errors;
  }
  const outNodes: GraphNode[] = [...nodes.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([service, n]) => ({
      service,
      virtual: n.virtual,
      instances: [...n.instances].sort(),
      hosts: [...n.hosts].sort(),
      stats: n.acc.stats(windowSec),
    }));
  const outEdges: GraphEdge[] = [...edges.values()]
    .sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1))
    .map((e) => {
      const ge: GraphEdge = { from: e.from, to: e.to, stats: e.acc.stats(windowSec), unpaired: e.acc.unpaired };
      if (e.acc.gapN > 0) ge.meanGapMs = e.acc.gapSum / e.acc.gapN;
      return ge;
    });
  return { fromMs, toMs, nodes: outNodes, edges: outEdges };
}

/** The service graph of the spans that start in [fromMs, toMs). Parents outside the window still link. */
export function buildServiceGraph(spans: Span[], fromMs: number, toMs: number): ServiceGraph {
  const idx = buildSpanIndex(spans, undefined, analysisPool()); // arrays do not outlive the call
  return graphFromIndex(idx, fromMs, toMs, (i) => idx.start[i] >= fromMs && idx.start[i] < toMs);
}

/** Rate, errors and latency of one operation or edge in one time bucket. */
export interface BucketStats {
  startMs: number;
  calls: number;
  errors: number;
  p50Ms: number;
  p95Ms: number;
  meanSelfMs: number;
}

export interface BucketedStats {
  bucketMs: number;
  operations: Array<{ service: string; operation: string; buckets: BucketStats[] }>;
  edges: Array<{ from: string; to: string; buckets: BucketStats[] }>;
}

/**
 * Per-operation (entry spans and internal spans alike) and per-edge statistics in time
 * buckets of `bucketMs`, for charts and for the API's drill-down.
 */
export function bucketedStats(spans: Span[], fromMs: number, toMs: number, bucketMs: number): BucketedStats {
  if (!(bucketMs > 0)) throw new Error(`bucketedStats: bucketMs must be > 0, got ${bucketMs}`);
  const idx = buildSpanIndex(spans, undefined, analysisPool());
  const nb = Math.max(1, Math.ceil((toMs - fromMs) / bucketMs));
  type Cell = { d: number[]; e: number; self: number };
  const opCells = new Map<number, Cell[]>();
  const edgeCells = new Map<string, Cell[]>();
  const cellsOf = <K>(m: Map<K, Cell[]>, k: K) => {
    let c = m.get(k);
    if (!c) m.set(k, (c = Array.from({ length: nb }, () => ({ d: [], e: 0, self: 0 }))));
    return c;
  };
  for (let i = 0; i < idx.n; i++) {
    const t = idx.start[i];
    if (t < fromMs || t >= toMs) continue;
    const b = Math.min(nb - 1, Math.floor((t - fromMs) / bucketMs));
    const oc = cellsOf(opCells, idx.op[i])[b];
    oc.d.push(idx.dur[i]);
    oc.e += idx.err[i];
    oc.self += idx.self[i];
    const k = idx.kind[i];
    if (k === K_CLIENT) {
      const c = serverChildOf(idx, i);
      const to = c >= 0 ? idx.services.names[idx.svc[c]] : peerOf(idx.spans[i]);
      if (to !== undefined) {
        const ec = cellsOf(edgeCells, idx.services.names[idx.svc[i]] + '\u0000' + to)[b];
        ec.d.push(idx.dur[i]);
        ec.e += idx.err[i];
      }
    }
  }
  const finish = (cells: Cell[]): BucketStats[] =>
    cells.map((c, b) => {
      const a = Float64Array.from(c.d).sort();
      return {
        startMs: fromMs + b * bucketMs,
        calls: a.length,
        errors: c.e,
        p50Ms: a.length ? quantileSorted(a, 0.5) : 0,
        p95Ms: a.length ? quantileSorted(a, 0.95) : 0,
        meanSelfMs: a.length ? c.self / a.length : 0,
      };
    });
  return {
    bucketMs,
    operations: [...opCells.entries()].map(([o, cells]) => {
      const l = opLabel(idx.ops.names[o]);
      return { service: l.service, operation: l.name, buckets: finish(cells) };
    }),
    edges: [...edgeCells.entries()].map(([k, cells]) => {
      const [from, to] = k.split('\u0000');
      return { from, to, buckets: finish(cells) };
    }),
  };
}
