// The durable state: what is written is read back (also after reopening), paging is
// stable and complete, bad cursors and duplicate incidents are refused, migrations run once.

import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStateStore, resolveDataDir, SCHEMA_VERSION, StateInputError, type StateStore } from '../../agent/state/index';
import type { Diagnosis } from '../../model/diagnosis';

function diagnosis(id: string, createdAtMs: number, service = 'ranking'): Diagnosis {
  return {
    id,
    createdAtMs,
    window: { fromMs: createdAtMs - 60_000, toMs: createdAtMs },
    anomaly: { detected: true, changeAtMs: createdAtMs - 30_000, baselineSource: 'pre-change', signals: [] },
    causes: [
      {
        service,
        instance: `${service}-1`,
        kind: 'cpu',
        score: 3.2,
        confidence: 0.8,
        evidence: [{ id: 'ev-1', type: 'latency', title: 'self time rose', service, before: 10, after: 80, score: 7, points: [[1, 2]] }],
      },
    ],
    propagationPath: [service, 'frontend'],
    summary: `cpu at ${service}`,
    explanation: 'because',
    timing: { analysisMs: 12, spans: 100, metricPoints: 5 },
  };
}

describe('state store', () => {
  let dir: string;
  let state: StateStore;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-state-'));
    state = openStateStore(dir);
  });
  afterEach(() => {
    state.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('diagnoses round-trip and survive reopening', () => {
    const d = diagnosis('dg-1', 1_000_000);
    state.saveDiagnosis(d, 'api');
    expect(state.getDiagnosis('dg-1')).toEqual(d);
    expect(state.getDiagnosis('nope')).toBeUndefined();
    state.close();
    state = openStateStore(dir);
    expect(state.getDiagnosis('dg-1')).toEqual(d);
    expect(state.latestDiagnosis()?.id).toBe('dg-1');
  });

  test('paging walks every diagnosis once, newest first, with time filters', () => {
    // Several share a timestamp: the cursor must still neither skip nor repeat.
    const times = [5, 1, 3, 3, 3, 2, 4, 4, 6, 0].map((t) => 1_000_000 + t * 1000);
    times.forEach((t, i) => state.saveDiagnosis(diagnosis(`dg-${i}`, t), 'watch'));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = state.listDiagnoses({ limit: 3, cursor });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect(new Set(seen).size).toBe(10);
    const created = seen.map((id) => state.getDiagnosis(id)!.createdAtMs);
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    const filtered = state.listDiagnoses({ sinceMs: 1_002_000, untilMs: 1_004_000, limit: 50 });
    expect(filtered.items.map((s) => s.createdAtMs).sort()).toEqual([1_002_000, 1_003_000, 1_003_000, 1_003_000]);
    expect(filtered.nextCursor).toBeUndefined();
    const summary = filtered.items[0];
    expect(summary.rootCause).toEqual({ service: 'ranking', instance: 'ranking-1', kind: 'cpu', score: 3.2, confidence: 0.8 });
    expect(summary.source).toBe('watch');
  });

  test('a cursor the server did not issue is an input error', () => {
    expect(() => state.listDiagnoses({ cursor: 'garbage!' })).toThrow(StateInputError);
  });

  test('anomalies, incidents and audit records', () => {
    state.saveAnomaly({ id: 'an-1', detectedAtMs: 10, changeAtMs: 5, window: { fromMs: 0, toMs: 10 }, report: { detected: true, changeAtMs: 5, baselineSource: 'pre-change', signals: [] }, diagnosisId: 'dg-1' });
    state.saveAnomaly({ id: 'an-2', detectedAtMs: 20, window: { fromMs: 0, toMs: 20 }, report: { detected: true, baselineSource: 'none', signals: [] } });
    expect(state.listAnomalies().items.map((a) => a.id)).toEqual(['an-2', 'an-1']);
    expect(state.latestAnomaly()?.id).toBe('an-2');
    expect(state.listAnomalies().items[1]).toMatchObject({ changeAtMs: 5, diagnosisId: 'dg-1' });

    const inc = { id: 'inc-a', createdAtMs: 100, window: { fromMs: 0, toMs: 50 }, dir: 'incidents/inc-a', source: 'api' as const, truth: { service: 'ranking', kind: 'cpu' as const, start: '2026-11-20T10:15:00Z' } };
    state.saveIncident(inc);
    expect(state.getIncident('inc-a')).toEqual(inc);
    expect(() => state.saveIncident(inc)).toThrow(/already exists/);

    const a1 = state.appendAudit({ kind: 'tuner.apply', actor: 'tuner', data: { knob: 'batch', to: 32 } });
    const a2 = state.appendAudit({ kind: 'tuner.rollback', data: { knob: 'batch' } });
    expect(a2.seq).toBeGreaterThan(a1.seq);
    expect(state.listAudit().map((r) => r.kind)).toEqual(['tuner.apply', 'tuner.rollback']);
    expect(state.listAudit({ kind: 'tuner.rollback' })).toHaveLength(1);
    expect(state.listAudit({ afterSeq: a1.seq })[0]).toMatchObject({ seq: a2.seq, data: { knob: 'batch' } });
  });

  test('WAL journal and the schema version are set', () => {
    state.close();
    const db = new Database(path.join(dir, 'state.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
    state = openStateStore(dir); // migrating again is a no-op
    expect(state.health().status).toBe('ok');
  });

  test('a database from a newer faultline is refused with a clear message', () => {
    state.close();
    const db = new Database(path.join(dir, 'state.db'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openStateStore(dir)).toThrow(/newer than this faultline/);
    state = openStateStore(fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-state-')));
  });

  test('data directory: FAULTLINE_DATA_DIR, else ./.faultline', () => {
    expect(resolveDataDir(undefined, {})).toBe(path.resolve('.faultline'));
    expect(resolveDataDir(undefined, { FAULTLINE_DATA_DIR: '/var/lib/fl' })).toBe('/var/lib/fl');
    expect(resolveDataDir('/x', { FAULTLINE_DATA_DIR: '/var/lib/fl' })).toBe('/x');
  });
});
