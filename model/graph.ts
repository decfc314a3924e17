// The service graph derived from spans, as the API and the web view show it and the
// analyzers use it. Built by analyzers/graph.ts (buildServiceGraph).

/** Rate, errors, duration over the graph's window. */
export interface RedStats {
  calls: number;
  ratePerSec: number;
  errors: number;
  errorRate: number; // errors / calls, 0..1
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface GraphNode {
  service: string;
  /** true for a peer seen only from client spans (database, cache, an uninstrumented service). */
  virtual: boolean;
  instances: string[];
  hosts: string[];
  /** Server-side (or root) statistics of the service. */
  stats: RedStats;
  /** Health for colouring: 'ok' | 'warning' (anomalous) | 'critical' (root-cause candidate). Set by the caller. */
  health?: 'ok' | 'warning' | 'critical' | 'unknown';
}

export interface GraphEdge {
  from: string; // caller service
  to: string; // callee service (or virtual peer)
  /** As the caller measured it (client span, or the child span when no client span exists). */
  stats: RedStats;
  /** Mean of client duration minus server duration, when both sides were seen (network + queueing). */
  meanGapMs?: number;
  /** Client spans whose server side never arrived (uninstrumented peer, or lost). */
  unpaired: number;
}

export interface ServiceGraph {
  fromMs: number;
  toMs: number;
  /** Set when the graph was built from a sample of whole traces: the fraction kept. Counts and rates are scaled back up; percentiles are the sample's. */
  sampledTraces?: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}
