// Replays every incident folder under a root and scores the rankings (AC@1, AC@3, Avg@5,
// overall and per fault kind) with the time per incident.

import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { BASELINE_DIR, INCIDENT_FILE, METRICS_FILE, TRACES_FILE } from './format';
import { readIncidentTruth } from './reader';
import { replayIncident, type ReplayOptions, type ReplayResult } from './replay';
import { scoreByKind, type ScoredCase, type Scores } from './score';

export interface BenchCase {
  incident: string;
  id?: string;
  kind?: string;
  truthService?: string;
  rank?: number;
  top?: string;
  topKind?: string;
  /** The true instance (when the truth names one) and the top cause's. */
  truthInstance?: string;
  topInstance?: string;
  ms: number;
  error?: string;
}

export interface BenchReport {
  root: string;
  incidents: number;
  /** Incidents with a truth, which are the ones scored. */
  scored: number;
  errors: number;
  overall: Scores;
  byKind: Record<string, Scores>;
  cases: BenchCase[];
}

const INCIDENT_MARKERS = [INCIDENT_FILE, TRACES_FILE, TRACES_FILE + '.gz', METRICS_FILE, METRICS_FILE + '.gz'];

/** Incident folders under root (root itself if it is one), sorted by path; not inside an incident. */
export async function findIncidentDirs(root: string): Promise<string[]> {
  const s = await stat(root).catch(() => undefined);
  if (!s) throw new Error(`${root}: no such folder`);
  if (!s.isDirectory()) throw new Error(`${root}: not a folder`);
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && INCIDENT_MARKERS.includes(e.name))) {
      out.push(dir);
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.isDirectory() && e.name !== BASELINE_DIR && !e.name.startsWith('.')) await walk(path.join(dir, e.name));
    }
  };
  await walk(root);
  return out;
}

export async function runBench(
  root: string,
  options: ReplayOptions & { onResult?: (r: ReplayResult, done: number, total: number) => void; onStart?: (dir: string, done: number, total: number) => void } = {},
): Promise<BenchReport> {
  const dirs = await findIncidentDirs(root);
  const cases: BenchCase[] = [];
  for (let i = 0; i < dirs.length; i++) {
    options.onStart?.(dirs[i], i, dirs.length);
    const r = await replayIncident(dirs[i], options);
    // A failed replay still counts (as a miss) when its truth can be read.
    if (r.error !== undefined) r.truth = await readIncidentTruth(dirs[i]).catch(() => undefined);
    options.onResult?.(r, i + 1, dirs.length);
    cases.push(toCase(r));
  }
  return summarize(root, cases);
}

function toCase(r: ReplayResult): BenchCase {
  const c: BenchCase = { incident: r.incident, id: r.id, ms: r.ms };
  if (r.error !== undefined) c.error = r.error;
  if (r.truth) {
    c.kind = r.truth.kind;
    c.truthService = r.truth.service;
    if (r.truth.instance) c.truthInstance = r.truth.instance;
    c.rank = r.truthRank;
  }
  if (r.ranking?.length) {
    c.top = r.ranking[0].service;
    c.topKind = r.ranking[0].kind;
    if (r.ranking[0].instance) c.topInstance = r.ranking[0].instance;
  }
  return c;
}

export function summarize(root: string, cases: BenchCase[]): BenchReport {
  // An incident that failed to replay counts as a miss when its truth is known: a bench
  // that silently dropped failures would flatter the analyzer.
  const scored: ScoredCase[] = cases.filter((c) => c.truthService !== undefined).map((c) => ({ rank: c.error ? undefined : c.rank, kind: c.kind!, ms: c.ms, kindAtTop: !c.error && c.rank === 1 && c.topKind === c.kind,
    instanceAtTop: c.truthInstance === undefined ? undefined : !c.error && c.rank === 1 && c.topInstance === c.truthInstance,
  }));
  const { overall, byKind } = scoreByKind(scored);
  return { root, incidents: cases.length, scored: scored.length, errors: cases.filter((c) => c.error).length, overall, byKind, cases };
}
