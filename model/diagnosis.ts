// What analyzers produce and the API, the store, the LLM step and replay pass on.

export const FAULT_KINDS = ['cpu', 'memory', 'disk', 'delay', 'loss', 'error', 'config', 'unknown'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fact a human can check: which series / edge / operation, before vs after. */
export interface Evidence {
  id: string; // stable within a diagnosis, e.g. 'ev-3'; the LLM cites these
  type: 'metric' | 'latency' | 'errors' | 'edge' | 'traces' | 'throughput' | 'host';
  title: string; // 'self time of POST /rank rose 8.2x'
  service: string;
  instance?: string;
  operation?: string;
  /** For edge evidence: caller -> callee. */
  edge?: { from: string; to: string };
  series?: string; // metric series key when type = metric/host
  before: number;
  after: number;
  unit?: string; // 'ms', 'ratio', '1/s', ...
  score: number; // how anomalous, >= 0 (robust z or similar)
  /** Optional points [timeMs, value] for a before/after chart. */
  points?: Array<[number, number]>;
}

export interface RankedCause {
  service: string;
  instance?: string;
  operation?: string;
  kind: FaultKind;
  score: number; // higher is more likely; comparable within one diagnosis
  confidence: number; // 0..1
  evidence: Evidence[];
}

export interface AnomalyReport {
  detected: boolean;
  /** When the behaviour changed (ms since epoch); undefined when nothing changed. */
  changeAtMs?: number;
  /** Where "normal" came from. */
  baselineSource: 'baseline' | 'pre-change' | 'none';
  signals: Array<{ service: string; operation?: string; signal: 'latency' | 'errors' | 'throughput'; before: number; after: number; score: number }>;
}

export interface Diagnosis {
  id: string;
  createdAtMs: number;
  window: { fromMs: number; toMs: number };
  anomaly: AnomalyReport;
  causes: RankedCause[]; // best first, each service at most once
  /** Services from the root cause up to the entry point, as the symptom travelled. */
  propagationPath: string[];
  summary: string; // one line a pager can show
  explanation: string; // deterministic text; the LLM step may replace it
  /** sampledTraces: the fraction of the window's traces the analysis read, when it read a sample. */
  timing: { analysisMs: number; spans: number; metricPoints: number; sampledTraces?: number };
  /** Filled by the optional LLM step (issue 6). */
  llm?: unknown;
}

/** Marks a diagnosis made from a sample of whole traces (a fraction `sampled` of them) so readers know. */
export function noteSampled(d: Diagnosis, sampled: number): void {
  if (!(sampled < 1)) return;
  d.timing.sampledTraces = sampled;
  d.summary += ` (from ${(sampled * 100).toFixed(1)} % of the window's traces, sampled whole)`;
}
