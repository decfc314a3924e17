// The durable state in one SQLite file (better-sqlite3) under the data directory.
// Durability: WAL with synchronous=FULL, so each committed write is fsynced to the WAL
// before the call returns; kill -9 (or a power cut) after an acknowledged API response
// loses nothing. Writes here are a few per minute, so the fsync cost does not matter.

import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { ComponentHealth } from '../../model/component';
import type { Diagnosis } from '../../model/diagnosis';
import { migrate } from './migrations';
import {
  StateInputError,
  type AnomalyRecord,
  type AuditInput,
  type AuditRecord,
  type DiagnosisSource,
  type DiagnosisSummary,
  type IncidentRecord,
  type ListOptions,
  type Page,
  type StateStore,
} from './types';

export const STATE_DB_FILE = 'state.db';
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 500;

interface Cursor {
  t: number;
  id: string;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.t, c.id])).toString('base64url');
}

function decodeCursor(s: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') return { t: v[0], id: v[1] };
  } catch {
    // fall through
  }
  throw new StateInputError(`cursor "${s.slice(0, 40)}" is not one this server issued`);
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  return Math.max(1, Math.min(MAX_LIMIT, Math.floor(limit)));
}

/**
 * Builds "newest first after the cursor" paging over a table with a time column and a
 * text id: stable under inserts because (time, id) is unique and totally ordered.
 */
function pageQuery(table: string, timeCol: string, o: ListOptions, extraWhere = ''): { sql: string; params: unknown[]; limit: number } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (extraWhere) where.push(extraWhere);
  if (o.sinceMs !== undefined) {
    where.push(`${timeCol} >= ?`);
    params.push(o.sinceMs);
  }
  if (o.untilMs !== undefined) {
    where.push(`${timeCol} < ?`);
    params.push(o.untilMs);
  }
  if (o.cursor) {
    const c = decodeCursor(o.cursor);
    where.push(`(${timeCol} < ? OR (${timeCol} = ? AND id < ?))`);
    params.push(c.t, c.t, c.id);
  }
  const limit = clampLimit(o.limit);
  params.push(limit + 1);
  const sql = `SELECT * FROM ${table} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${timeCol} DESC, id DESC LIMIT ?`;
  return { sql, params, limit };
}

function toPage<R, T>(rows: R[], limit: number, map: (r: R) => T, key: (r: R) => Cursor): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const page: Page<T> = { items: kept.map(map) };
  if (more) page.nextCursor = encodeCursor(key(kept[kept.length - 1]));
  return page;
}

interface DiagnosisRow {
  id: string;
  created_at_ms: number;
  source: DiagnosisSource;
  from_ms: number;
  to_ms: number;
  summary: string;
  detected: number;
  change_at_ms: number | null;
  root_service: string | null;
  body: string;
}

interface AnomalyRow {
  id: string;
  detected_at_ms: number;
  change_at_ms: number | null;
  from_ms: number;
  to_ms: number;
  report: string;
  diagnosis_id: string | null;
}

interface IncidentRow {
  id: string;
  created_at_ms: number;
  from_ms: number;
  to_ms: number;
  dir: string;
  source: 'api' | 'watch';
  system: string | null;
  description: string | null;
  truth: string | null;
  diagnosis_id: string | null;
}

interface AuditRow {
  seq: number;
  at_ms: number;
  kind: string;
  actor: string | null;
  data: string;
}

function summarize(row: DiagnosisRow): DiagnosisSummary {
  const d = JSON.parse(row.body) as Diagnosis;
  const top = d.causes[0];
  const s: DiagnosisSummary = {
    id: row.id,
    createdAtMs: row.created_at_ms,
    source: row.source,
    window: { fromMs: row.from_ms, toMs: row.to_ms },
    summary: row.summary,
    detected: row.detected === 1,
  };
  if (row.change_at_ms !== null) s.changeAtMs = row.change_at_ms;
  if (top) {
    s.rootCause = { service: top.service, kind: top.kind, score: top.score, confidence: top.confidence };
    if (top.instance !== undefined) s.rootCause.instance = top.instance;
  }
  return s;
}

function anomalyFromRow(r: AnomalyRow): AnomalyRecord {
  const a: AnomalyRecord = { id: r.id, detectedAtMs: r.detected_at_ms, window: { fromMs: r.from_ms, toMs: r.to_ms }, report: JSON.parse(r.report) };
  if (r.change_at_ms !== null) a.changeAtMs = r.change_at_ms;
  if (r.diagnosis_id !== null) a.diagnosisId = r.diagnosis_id;
  return a;
}

function incidentFromRow(r: IncidentRow): IncidentRecord {
  const i: IncidentRecord = { id: r.id, createdAtMs: r.created_at_ms, window: { fromMs: r.from_ms, toMs: r.to_ms }, dir: r.dir, source: r.source };
  if (r.system !== null) i.system = r.system;
  if (r.description !== null) i.description = r.description;
  if (r.truth !== null) i.truth = JSON.parse(r.truth);
  if (r.diagnosis_id !== null) i.diagnosisId = r.diagnosis_id;
  return i;
}

function prepareStatements(db: Database.Database) {
  return {
    insertDiagnosis: db.prepare(
      `INSERT INTO diagnoses (id, created_at_ms, source, from_ms, to_ms, summary, detected, change_at_ms, root_service, body)
       VALUES (@id, @created_at_ms, @source, @from_ms, @to_ms, @summary, @detected, @change_at_ms, @root_service, @body)
       ON CONFLICT(id) DO UPDATE SET body = excluded.body, summary = excluded.summary, root_service = excluded.root_service`,
    ),
    getDiagnosis: db.prepare('SELECT body FROM diagnoses WHERE id = ?'),
    latestDiagnosis: db.prepare('SELECT body FROM diagnoses ORDER BY created_at_ms DESC, id DESC LIMIT 1'),
    insertAnomaly: db.prepare(
      `INSERT OR REPLACE INTO anomalies (id, detected_at_ms, change_at_ms, from_ms, to_ms, report, diagnosis_id)
       VALUES (@id, @detected_at_ms, @change_at_ms, @from_ms, @to_ms, @report, @diagnosis_id)`,
    ),
    latestAnomaly: db.prepare('SELECT * FROM anomalies ORDER BY detected_at_ms DESC, id DESC LIMIT 1'),
    insertIncident: db.prepare(
      `INSERT INTO incidents (id, created_at_ms, from_ms, to_ms, dir, source, system, description, truth, diagnosis_id)
       VALUES (@id, @created_at_ms, @from_ms, @to_ms, @dir, @source, @system, @description, @truth, @diagnosis_id)`,
    ),
    getIncident: db.prepare('SELECT * FROM incidents WHERE id = ?'),
    insertAudit: db.prepare('INSERT INTO audit (at_ms, kind, actor, data) VALUES (?, ?, ?, ?)'),
  };
}

export class SqliteStateStore implements StateStore {
  readonly dbPath: string;
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private lastError?: string;

  constructor(readonly dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.dbPath = path.join(dataDir, STATE_DB_FILE);
    this.db = new Database(this.dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    // Several processes (a CLI next to the server) may open the file: wait, don't fail.
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    this.stmts = prepareStatements(this.db);
  }

  saveDiagnosis(d: Diagnosis, source: DiagnosisSource): void {
    this.write(() =>
      this.stmts.insertDiagnosis.run({
        id: d.id,
        created_at_ms: d.createdAtMs,
        source,
        from_ms: d.window.fromMs,
        to_ms: d.window.toMs,
        summary: d.summary,
        detected: d.anomaly?.detected ? 1 : 0,
        change_at_ms: d.anomaly?.changeAtMs ?? null,
        root_service: d.causes[0]?.service ?? null,
        body: JSON.stringify(d),
      }),
    );
  }

  getDiagnosis(id: string): Diagnosis | undefined {
    const row = this.stmts.getDiagnosis.get(id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Diagnosis) : undefined;
  }

  latestDiagnosis(): Diagnosis | undefined {
    const row = this.stmts.latestDiagnosis.get() as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Diagnosis) : undefined;
  }

  listDiagnoses(o: ListOptions = {}): Page<DiagnosisSummary> {
    const q = pageQuery('diagnoses', 'created_at_ms', o);
    const rows = this.db.prepare(q.sql).all(...q.params) as DiagnosisRow[];
    return toPage(rows, q.limit, summarize, (r) => ({ t: r.created_at_ms, id: r.id }));
  }

  saveAnomaly(a: AnomalyRecord): void {
    this.write(() =>
      this.stmts.insertAnomaly.run({
        id: a.id,
        detected_at_ms: a.detectedAtMs,
        change_at_ms: a.changeAtMs ?? null,
        from_ms: a.window.fromMs,
        to_ms: a.window.toMs,
        report: JSON.stringify(a.report),
        diagnosis_id: a.diagnosisId ?? null,
      }),
    );
  }

  listAnomalies(o: ListOptions = {}): Page<AnomalyRecord> {
    const q = pageQuery('anomalies', 'detected_at_ms', o);
    const rows = this.db.prepare(q.sql).all(...q.params) as AnomalyRow[];
    return toPage(rows, q.limit, anomalyFromRow, (r) => ({ t: r.detected_at_ms, id: r.id }));
  }

  latestAnomaly(): AnomalyRecord | undefined {
    const row = this.stmts.latestAnomaly.get() as AnomalyRow | undefined;
    return row ? anomalyFromRow(row) : undefined;
  }

  saveIncident(r: IncidentRecord): void {
    try {
      this.write(() =>
        this.stmts.insertIncident.run({
          id: r.id,
          created_at_ms: r.createdAtMs,
          from_ms: r.window.fromMs,
          to_ms: r.window.toMs,
          dir: r.dir,
          source: r.source,
          system: r.system ?? null,
          description: r.description ?? null,
          truth: r.truth ? JSON.stringify(r.truth) : null,
          diagnosis_id: r.diagnosisId ?? null,
        }),
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StateInputError(`incident "${r.id}" already exists`, 'conflict');
      throw err;
    }
  }

  getIncident(id: string): IncidentRecord | undefined {
    const row = this.stmts.getIncident.get(id) as IncidentRow | undefined;
    return row ? incidentFromRow(row) : undefined;
  }

  listIncidents(o: ListOptions = {}): Page<IncidentRecord> {
    const q = pageQuery('incidents', 'created_at_ms', o);
    const rows = this.db.prepare(q.sql).all(...q.params) as IncidentRow[];
    return toPage(rows, q.limit, incidentFromRow, (r) => ({ t: r.created_at_ms, id: r.id }));
  }

  appendAudit(r: AuditInput): AuditRecord {
    const atMs = r.atMs ?? Date.now();
    const info = this.write(() => this.stmts.insertAudit.run(atMs, r.kind, r.actor ?? null, JSON.stringify(r.data ?? null)));
    const rec: AuditRecord = { seq: Number(info.lastInsertRowid), atMs, kind: r.kind, data: r.data ?? null };
    if (r.actor !== undefined) rec.actor = r.actor;
    return rec;
  }

  listAudit(o: { afterSeq?: number; kind?: string; limit?: number } = {}): AuditRecord[] {
    const where = ['seq > ?'];
    const params: unknown[] = [o.afterSeq ?? 0];
    if (o.kind !== undefined) {
      where.push('kind = ?');
      params.push(o.kind);
    }
    params.push(Math.max(1, Math.min(10_000, o.limit ?? 1000)));
    const rows = this.db.prepare(`SELECT * FROM audit WHERE ${where.join(' AND ')} ORDER BY seq ASC LIMIT ?`).all(...params) as AuditRow[];
    return rows.map((r) => {
      const rec: AuditRecord = { seq: r.seq, atMs: r.at_ms, kind: r.kind, data: JSON.parse(r.data) };
      if (r.actor !== null) rec.actor = r.actor;
      return rec;
    });
  }

  health(): ComponentHealth {
    try {
      this.db.prepare('SELECT 1').get();
    } catch (err) {
      return { component: 'state', status: 'failed', message: `state database ${this.dbPath}: ${(err as Error).message}` };
    }
    if (this.lastError) return { component: 'state', status: 'degraded', message: `last write failed: ${this.lastError}` };
    return { component: 'state', status: 'ok' };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private write<T>(fn: () => T): T {
    try {
      const out = fn();
      this.lastError = undefined;
      return out;
    } catch (err) {
      if (!(err instanceof StateInputError) && (err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') this.lastError = (err as Error).message;
      throw err;
    }
  }
}
