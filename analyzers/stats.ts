// Small robust-statistics helpers shared by detection and localization.

/** Quantile of an ascending-sorted array (linear interpolation); NaN when empty. */
export function quantileSorted(a: ArrayLike<number>, q: number): number {
  const n = a.length;
  if (n === 0) return NaN;
  if (n === 1) return a[0];
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return a[lo] + (a[hi] - a[lo]) * (pos - lo);
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const a = Float64Array.from(values as ArrayLike<number>);
  a.sort();
  return a;
}

export interface Robust {
  n: number;
  median: number;
  q25: number;
  q75: number;
  iqr: number;
  min: number;
  max: number;
}

export function robust(values: ArrayLike<number>): Robust {
  const a = sortedCopy(values);
  const n = a.length;
  if (n === 0) return { n, median: NaN, q25: NaN, q75: NaN, iqr: NaN, min: NaN, max: NaN };
  const q25 = quantileSorted(a, 0.25), q75 = quantileSorted(a, 0.75);
  return { n, median: quantileSorted(a, 0.5), q25, q75, iqr: q75 - q25, min: a[0], max: a[n - 1] };
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length ? s / values.length : NaN;
}

/** Binomial-style z for "k of n" against an expected rate p0 (background rate aware). */
export function excessZ(k: number, n: number, p0: number): number {
  const e = n * p0;
  return (k - e) / Math.sqrt(e * (1 - Math.min(p0, 0.99)) + 1);
}

/** Rounds for display without noise digits. */
export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const m = Math.pow(10, digits);
  return Math.round(v * m) / m;
}
