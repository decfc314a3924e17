// Scoring as the RCA literature does it (service level): AC@k is the share of incidents
// whose true service is among the first k ranked services; Avg@5 is the mean of AC@1..AC@5.

export interface ScoredCase {
  /** 1-based rank of the true service in the ranking; undefined when it is not ranked. */
  rank: number | undefined;
  kind: string;
  ms: number;
  /** The true service ranked first with the true fault kind. */
  kindAtTop?: boolean;
  /** The true service first and its true instance named; undefined when the truth names no instance. */
  instanceAtTop?: boolean;
}

export interface Scores {
  n: number;
  ac: [number, number, number, number, number]; // AC@1..AC@5
  avg5: number;
  /** Share of incidents whose true service is first and named with the true fault kind. */
  kindAt1: number;
  /** Among incidents whose truth names an instance: the true service first with that instance. NaN when none does. */
  instanceAt1: number;
  meanMs: number;
  medianMs: number;
}

export function acAtK(ranks: Array<number | undefined>, k: number): number {
  if (ranks.length === 0) return NaN;
  return ranks.filter((r) => r !== undefined && r <= k).length / ranks.length;
}

export function score(cases: ScoredCase[]): Scores {
  const ranks = cases.map((c) => c.rank);
  const ac = [1, 2, 3, 4, 5].map((k) => acAtK(ranks, k)) as Scores['ac'];
  const ms = cases.map((c) => c.ms);
  const withInstance = cases.filter((c) => c.instanceAtTop !== undefined);
  return {
    n: cases.length,
    ac,
    avg5: cases.length ? ac.reduce((a, b) => a + b, 0) / 5 : NaN,
    kindAt1: cases.length ? cases.filter((c) => c.kindAtTop).length / cases.length : NaN,
    instanceAt1: withInstance.length ? withInstance.filter((c) => c.instanceAtTop).length / withInstance.length : NaN,
    meanMs: ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : NaN,
    medianMs: median(ms),
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Overall and per fault kind (kinds sorted by name). */
export function scoreByKind(cases: ScoredCase[]): { overall: Scores; byKind: Record<string, Scores> } {
  const byKind: Record<string, Scores> = {};
  for (const kind of [...new Set(cases.map((c) => c.kind))].sort()) byKind[kind] = score(cases.filter((c) => c.kind === kind));
  return { overall: score(cases), byKind };
}
