// Development evaluation on the Nezha TrainTicket incidents: import -> diagnose -> AC@k.
//   npx tsx bench/nezha-eval.ts [nezhaRoot] [--no-baseline] [--verbose]
// The truth is read only after the ranking is produced, for scoring.

import * as path from 'node:path';
import { diagnose } from '../analyzers';
import { listNezhaFaults, loadNezhaIncident } from '../agent/importers/nezha';

const args = process.argv.slice(2);
const root = args.find((a) => !a.startsWith('--')) ?? path.resolve(__dirname, '../../shared/datasets/nezha-trainticket');
const noBaseline = args.includes('--no-baseline');
const verbose = args.includes('--verbose');

const faults = listNezhaFaults(root);
const rows: Array<{ kind: string; rank: number; ms: number; detected: boolean; changeErrS: number }> = [];
for (const f of faults) {
  const inc = loadNezhaIncident(root, f);
  let fromMs = Infinity, toMs = -Infinity;
  for (const s of inc.spans) {
    fromMs = Math.min(fromMs, s.startMs);
    toMs = Math.max(toMs, s.startMs + s.durationMs);
  }
  const t0 = performance.now();
  const d = diagnose({ fromMs, toMs, spans: inc.spans, metrics: inc.metrics, baseline: noBaseline ? undefined : inc.baseline });
  const ms = performance.now() - t0;
  const rank = d.causes.findIndex((c) => c.service === inc.truth.service) + 1;
  const changeErrS = d.anomaly.changeAtMs ? (d.anomaly.changeAtMs - Date.parse(inc.truth.start)) / 1000 : NaN;
  rows.push({ kind: f.type, rank, ms, detected: d.anomaly.detected, changeErrS });
  if (verbose || rank !== 1) {
    const top = d.causes.slice(0, 4).map((c) => `${c.service.replace(/^ts-|-service$/g, '')}:${c.kind}:${c.score.toFixed(2)}`).join(' ');
    console.log(`${inc.id.padEnd(44)} truth=${inc.truth.service.replace(/^ts-|-service$/g, '')} rank=${rank || '-'} det=${d.anomaly.detected} dt=${changeErrS.toFixed(0)}s | ${top}`);
    if (process.env.EVIDENCE) {
      for (const c of [d.causes[0], d.causes[rank - 1]]) if (c) for (const e of c.evidence.slice(0, 4)) console.log(`      ${c.service}: ${e.title} (score ${e.score.toFixed(1)})`);
    }
  }
}
const acc = (rs: typeof rows, k: number) => rs.filter((r) => r.rank > 0 && r.rank <= k).length / rs.length;
const report = (label: string, rs: typeof rows) => {
  const avg5 = [1, 2, 3, 4, 5].reduce((s, k) => s + acc(rs, k), 0) / 5;
  console.log(`${label.padEnd(16)} n=${String(rs.length).padStart(2)}  AC@1 ${(acc(rs, 1) * 100).toFixed(1)}%  AC@3 ${(acc(rs, 3) * 100).toFixed(1)}%  Avg@5 ${(avg5 * 100).toFixed(1)}%`);
};
console.log(`\n${noBaseline ? 'without baseline' : 'with baseline'}; detection never told the fault time`);
report('all', rows);
for (const k of [...new Set(rows.map((r) => r.kind))]) report(k, rows.filter((r) => r.kind === k));
const det = rows.filter((r) => r.detected);
console.log(`detected ${det.length}/${rows.length}; change time error median ${median(det.map((r) => Math.abs(r.changeErrS))).toFixed(0)} s; diagnose ms/incident: mean ${(rows.reduce((s, r) => s + r.ms, 0) / rows.length).toFixed(0)}, max ${Math.max(...rows.map((r) => r.ms)).toFixed(0)}`);

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}
