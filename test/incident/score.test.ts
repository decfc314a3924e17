// Scoring (AC@k, Avg@5) and the replay contract's ranking built from a diagnosis.

import { acAtK, score, scoreByKind } from '../../agent/incident/score';
import { toRanking } from '../../agent/incident/replay';
import type { Diagnosis, RankedCause } from '../../model/diagnosis';

const cause = (service: string, score: number, instance?: string): RankedCause => ({ service, instance, kind: 'cpu', score, confidence: 0.5, evidence: [] });
const diagnosis = (causes: RankedCause[]): Diagnosis => ({
  id: 'd',
  createdAtMs: 0,
  window: { fromMs: 0, toMs: 1 },
  anomaly: { detected: true, baselineSource: 'pre-change', signals: [] },
  causes,
  propagationPath: [],
  summary: '',
  explanation: '',
  timing: { analysisMs: 0, spans: 0, metricPoints: 0 },
});

describe('AC@k and Avg@5', () => {
  it('counts the share of incidents whose true service is within the first k', () => {
    const ranks = [1, 2, undefined, 5, 3];
    expect(acAtK(ranks, 1)).toBe(0.2);
    expect(acAtK(ranks, 3)).toBe(0.6);
    expect(acAtK(ranks, 5)).toBe(0.8);
    const s = score(ranks.map((rank, i) => ({ rank, kind: 'x', ms: [10, 20, 30, 40, 1000][i] })));
    expect(s.ac).toEqual([0.2, 0.4, 0.6, 0.6, 0.8]);
    expect(s.avg5).toBeCloseTo((0.2 + 0.4 + 0.6 + 0.6 + 0.8) / 5, 12);
    expect(s.kindAt1).toBe(0); // no case says its kind was right
    expect(s.meanMs).toBe(220);
    expect(s.medianMs).toBe(30);
  });

  it('kind@1 counts the true service first with the true kind', () => {
    const s = score([
      { rank: 1, kind: 'cpu', ms: 1, kindAtTop: true },
      { rank: 1, kind: 'cpu', ms: 1, kindAtTop: false },
      { rank: 2, kind: 'cpu', ms: 1 },
      { rank: undefined, kind: 'cpu', ms: 1 },
    ]);
    expect(s.ac[0]).toBe(0.5);
    expect(s.kindAt1).toBe(0.25);
    expect(s.instanceAt1).toBeNaN(); // no truth named an instance
    const withInstances = score([
      { rank: 1, kind: 'cpu', ms: 1, instanceAtTop: true },
      { rank: 1, kind: 'cpu', ms: 1, instanceAtTop: false },
      { rank: 1, kind: 'config', ms: 1 }, // the truth names the service only: not counted
    ]);
    expect(withInstances.instanceAt1).toBe(0.5);
  });

  it('splits by fault kind', () => {
    const { overall, byKind } = scoreByKind([
      { rank: 1, kind: 'cpu', ms: 1 },
      { rank: 4, kind: 'delay', ms: 1 },
      { rank: undefined, kind: 'cpu', ms: 1 },
    ]);
    expect(overall.n).toBe(3);
    expect(byKind.cpu.ac[0]).toBe(0.5);
    expect(byKind.delay.ac[2]).toBe(0);
    expect(byKind.delay.ac[3]).toBe(1);
  });
});

describe('toRanking', () => {
  it('keeps each service once, its best entry first, with instance only when known', () => {
    const r = toRanking(diagnosis([cause('a', 3, 'a-1'), cause('b', 2), cause('a', 1, 'a-2'), cause('c', 0.5)]), ['a', 'b', 'c'], 5);
    expect(r).toEqual([
      { service: 'a', instance: 'a-1', kind: 'cpu', score: 3 },
      { service: 'b', kind: 'cpu', score: 2 },
      { service: 'c', kind: 'cpu', score: 0.5 },
    ]);
  });

  it('pads with the other services of the incident up to five, after the ranked ones', () => {
    const r = toRanking(diagnosis([cause('d', 1)]), ['a', 'b', 'c', 'd', 'e', 'f'], 5);
    expect(r.map((e) => e.service)).toEqual(['d', 'a', 'b', 'c', 'e']);
    expect(r.slice(1).every((e) => e.score === 0 && e.kind === 'unknown')).toBe(true);
  });
});
