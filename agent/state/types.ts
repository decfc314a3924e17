// What the durable state holds: diagnoses, detected anomalies, the incident index and an
// append-only audit log (the tuner's history). The API and the watcher depend on this
// interface, not on SQLite.

import type { ComponentHealth } from '../../model/component';
import type { AnomalyReport, Diagnosis, FaultKind } from '../../model/diagnosis';

export type DiagnosisSource = 'api' | 'watch' | 'replay';

/** One page of a list, newest first; pass nextCursor back to get the following page. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface ListOptions {
  /** Page size, 1..500 (default 20). */
  limit?: number;
  /** Opaque, from a previous page's nextCursor. */
  cursor?: string;
  /** Only records created at or after (ms since epoch). */
  sinceMs?: number;
  /** Only records created before (ms since epoch). */
  untilMs?: number;
}

/** A diagnosis as a list shows it: enough to pick one without its evidence. */
export interface DiagnosisSummary {
  id: string;
  createdAtMs: number;
  source: DiagnosisSource;
  window: { fromMs: number; toMs: number };
  summary: string;
  detected: boolean;
  changeAtMs?: number;
  rootCause?: { service: string; instance?: string; kind: FaultKind; score: number; confidence: number };
}

export interface AnomalyRecord {
  id: string;
  detectedAtMs: number;
  /** When behaviour changed, in data time. */
  changeAtMs?: number;
  window: { fromMs: number; toMs: number };
  report: AnomalyReport;
  /** The diagnosis run for it, when one was. */
  diagnosisId?: string;
}

export interface IncidentTruthRecord {
  service: string;
  instance?: string;
  kind: FaultKind;
  start: string;
}

export interface IncidentRecord {
  id: string;
  createdAtMs: number;
  window: { fromMs: number; toMs: number };
  /** Folder in the incident format, relative to the data directory (e.g. 'incidents/x'). */
  dir: string;
  source: 'api' | 'watch';
  system?: string;
  description?: string;
  truth?: IncidentTruthRecord;
  diagnosisId?: string;
}

export interface AuditInput {
  /** What happened, e.g. 'tuner.apply', 'tuner.rollback'. */
  kind: string;
  actor?: string;
  atMs?: number;
  data: unknown;
}

export interface AuditRecord {
  /** Strictly increasing across restarts. */
  seq: number;
  atMs: number;
  kind: string;
  actor?: string;
  data: unknown;
}

/** Thrown for bad caller input (an unparsable cursor, a duplicate id); the API answers 400/409. */
export class StateInputError extends Error {
  constructor(
    message: string,
    readonly code: 'bad_cursor' | 'conflict' = 'bad_cursor',
  ) {
    super(message);
    this.name = 'StateInputError';
  }
}

/**
 * Every write returns only after the transaction is committed and synced (WAL,
 * synchronous=FULL), so whatever an API response acknowledged survives kill -9.
 */
export interface StateStore {
  readonly dataDir: string;
  readonly dbPath: string;

  saveDiagnosis(d: Diagnosis, source: DiagnosisSource): void;
  getDiagnosis(id: string): Diagnosis | undefined;
  listDiagnoses(o?: ListOptions): Page<DiagnosisSummary>;
  latestDiagnosis(): Diagnosis | undefined;

  saveAnomaly(a: AnomalyRecord): void;
  listAnomalies(o?: ListOptions): Page<AnomalyRecord>;
  latestAnomaly(): AnomalyRecord | undefined;

  /** Throws StateInputError('conflict') when the id exists. */
  saveIncident(r: IncidentRecord): void;
  getIncident(id: string): IncidentRecord | undefined;
  listIncidents(o?: ListOptions): Page<IncidentRecord>;

  appendAudit(r: AuditInput): AuditRecord;
  /** Oldest first after `afterSeq` (default: from the start), optionally one kind. */
  listAudit(o?: { afterSeq?: number; kind?: string; limit?: number }): AuditRecord[];

  health(): ComponentHealth;
  close(): void;
}
