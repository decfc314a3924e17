// Writes fixtures/llm/<case>/case.json: telemetry parameters, the deterministic diagnosis
// that analyzers/diagnose gave for it (stored, so the recordings stay valid when the
// analyzer changes), ground truth and what the grounded result must show.
// Run: npx tsx test/llm/make-llm-cases.ts   (then record: npx tsx test/llm/record-llm-fixtures.ts)

import fs from 'node:fs';
import path from 'node:path';
import { diagnose } from '../../analyzers';
import type { Diagnosis } from '../../model/diagnosis';
import { makeRecsysTelemetry } from './recsys-telemetry';
import { FIXTURES_DIR, type LlmCase } from './recorded';

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
const CHANGE = T0 + 6 * 60_000;
const T1 = T0 + 10 * 60_000;

function make(id: string, description: string, fault: LlmCase['telemetry']['fault'], edit?: (d: Diagnosis) => Diagnosis, extra: Partial<LlmCase> = {}): LlmCase {
  const telemetry = { seed: 11, fromMs: T0, changeAtMs: CHANGE, toMs: T1, traces: 80, fault };
  const tel = makeRecsysTelemetry(telemetry);
  let d = diagnose({ fromMs: T0, toMs: T1, spans: tel.spans, metrics: tel.metrics }, { id: `diag-${id}`, nowMs: T1 });
  d.timing.analysisMs = 0; // wall time would change the request on every run
  if (edit) d = edit(d);
  return { id, description, truth: { service: fault!.service, kind: fault!.kind }, telemetry, diagnosis: d, ...extra };
}

const cases: LlmCase[] = [
  make('fs-delay-agree', 'feature-store 8x slower; the model checks the edge and the service and agrees', { service: 'feature-store', kind: 'delay', factor: 8 }, undefined, {
    expect: { status: 'applied', changes: 0, droppedHypotheses: 0 },
  }),
  make('ranking-errors-wrong-promotion', 'ranking fails half its calls; the model wants feature-store first citing ranking\'s evidence and names an invented service', { service: 'ranking', kind: 'error', factor: 0.5 }, undefined, {
    expect: { status: 'applied', changes: 0, droppedHypotheses: 1, refused: ['feature-store'] },
  }),
  make('candidates-cpu-metric', 'candidates CPU-bound; the model reads the CPU series', { service: 'candidates', kind: 'cpu', factor: 3 }, undefined, {
    expect: { status: 'applied', changes: 0, droppedHypotheses: 0 },
  }),
  make('ranking-delay-config', 'ranking 3x slower right after the tuner raised its batch size; the model finds the change', { service: 'ranking', kind: 'delay', factor: 3 }, undefined, {
    recentChanges: [{ atMs: CHANGE - 5_000, target: 'ranking', parameter: 'batch_size', from: 32, to: 256, by: 'tuner', reason: 'trial 14 of regime peak' }],
    expect: { status: 'applied', changes: 0, droppedHypotheses: 0 },
  }),
  make(
    'fs-delay-analyzer-miss',
    'feature-store 8x slower, but the diagnosis was edited by hand to put recommend (no evidence) first, simulating an analyzer miss; the model promotes feature-store on its evidence',
    { service: 'feature-store', kind: 'delay', factor: 8 },
    (d) => {
      const fsCause = d.causes.find((c) => c.service === 'feature-store')!;
      const rec = d.causes.find((c) => c.service === 'recommend')!;
      const rest = d.causes.filter((c) => c !== fsCause && c !== rec);
      return { ...d, causes: [{ ...rec, score: 1.3, confidence: 0.6 }, fsCause, ...rest], summary: 'Likely root cause: recommend (edited for the evaluation).' };
    },
    { expect: { status: 'applied', changes: 2, droppedHypotheses: 0 } },
  ),
];

for (const c of cases) {
  const dir = path.join(FIXTURES_DIR, c.id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify(c, null, 1) + '\n');
  console.log(`${c.id}: ${c.diagnosis.causes.map((x) => `${x.service}[${x.evidence.map((e) => `${e.id}=${e.score.toFixed(1)}`).join(',')}]`).join(' ')}`);
}
