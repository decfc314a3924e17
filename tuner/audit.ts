// The tuner's durable audit trail: what was requested, what was actually in effect after
// applying (read back from the service), when, why, by whom and with what result. Injected
// as an AuditSink so the agent can back it with its state store; JsonlAuditSink is the
// file-backed default and fsyncs every record before append() returns (kill -9 loses
// nothing acknowledged).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from './space';

export type TunerMode = 'observe' | 'approve' | 'auto';

export type AuditKind = 'suggestion' | 'approval' | 'trial' | 'rollback' | 'kill-switch' | 'refused' | 'mode';

export type TrialVerdict = 'kept' | 'rolled-back' | 'refused' | 'failed' | 'would-apply';

export interface MeasurementSummary {
  fromMs: number;
  toMs: number;
  requests: number;
  ratePerS: number;
  p99Ms: number;
  errorRate: number;
  utilisation?: number;
  queueSlopePerS?: number;
  objective?: number;
}

export interface TunerAuditRecord {
  id: string;
  timeMs: number;
  kind: AuditKind;
  service: string;
  regime: string;
  mode: TunerMode;
  /** Why: the optimizer's reason, a rollback cause, an operator's words. */
  reason: string;
  suggestionId?: string;
  actor?: string;
  /** Config before the change (as read from the service). */
  previous?: Config;
  /** Config the tuner asked for after bounds/step limits. */
  requested?: Config;
  /** Knobs whose proposal was clamped, and by what. */
  limited?: Record<string, string[]>;
  /** Config in effect after applying, read back from the service (services clamp too). */
  applied?: Record<string, Config>;
  instances?: string[];
  canary?: string;
  predicted?: unknown;
  before?: MeasurementSummary;
  after?: MeasurementSummary;
  verdict?: TrialVerdict;
  checks?: string[];
  /** Per rollout stage: instances changed, the cohort compared against, and the canary tests' statistics. */
  stages?: Array<{ instances: string[]; baseline: string[] | 'before'; failed: string[]; stats?: unknown }>;
  /** The analytic utilisation pre-check (ρ = λ·service time / concurrency) of the requested config. */
  precheck?: { rho: number; max: number; ratePerS: number; serviceTimeMs: number; concurrency: number };
  /** Wait after each stage's change before its window (evaluation.settleMs or the changed knobs' own settle). */
  settleMs?: number;
}

export interface AuditFilter {
  kind?: AuditKind;
  regime?: string;
  sinceMs?: number;
  /** Most recent N (after the other filters). */
  limit?: number;
}

export interface AuditSink {
  append(record: TunerAuditRecord): void;
  list(filter?: AuditFilter): TunerAuditRecord[];
}

export function filterAudit(records: TunerAuditRecord[], filter: AuditFilter = {}): TunerAuditRecord[] {
  let out = records.filter(
    (r) => (filter.kind === undefined || r.kind === filter.kind) && (filter.regime === undefined || r.regime === filter.regime) && (filter.sinceMs === undefined || r.timeMs >= filter.sinceMs),
  );
  if (filter.limit !== undefined && out.length > filter.limit) out = out.slice(out.length - filter.limit);
  return out;
}

/** In memory only: tests and `observe` dry runs. */
export class MemoryAuditSink implements AuditSink {
  private readonly records: TunerAuditRecord[] = [];
  append(record: TunerAuditRecord): void {
    this.records.push(structuredClone(record));
  }
  list(filter?: AuditFilter): TunerAuditRecord[] {
    return filterAudit(this.records, filter).map((r) => structuredClone(r));
  }
}

/** One JSON record per line, appended and fsynced; existing records are loaded on open. */
export class JsonlAuditSink implements AuditSink {
  private readonly fd: number;
  private readonly records: TunerAuditRecord[] = [];

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (fs.existsSync(file)) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (!line.trim()) return;
        try {
          this.records.push(JSON.parse(line) as TunerAuditRecord);
        } catch {
          // Only a torn last line (a crash mid-write, never acknowledged) is tolerated.
          if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) throw new Error(`${file}:${i + 1}: not a JSON audit record`);
        }
      });
    }
    this.fd = fs.openSync(file, 'a');
  }

  append(record: TunerAuditRecord): void {
    const line = JSON.stringify(record) + '\n';
    fs.writeSync(this.fd, line);
    fs.fsyncSync(this.fd);
    this.records.push(JSON.parse(line) as TunerAuditRecord);
  }

  list(filter?: AuditFilter): TunerAuditRecord[] {
    return filterAudit(this.records, filter);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
