// Knobs: their types and bounds, the [0,1] encoding the GP works in, and the guardrail
// that turns any proposed value into one inside bounds and inside the per-change step limit.

export type KnobType = 'int' | 'float' | 'choice';
export type KnobValue = number | string;
export type Config = Record<string, KnobValue>;

export interface KnobSpec {
  name: string;
  type: KnobType;
  /** Bounds (int/float), inclusive. */
  min?: number;
  max?: number;
  /** Allowed values of a choice knob. */
  choices?: string[];
  /** Search and step in log space (sizes, timeouts). Needs min > 0. */
  log?: boolean;
  /**
   * Largest change per step: for log knobs a factor > 1 (value moves within [v/f, v·f]);
   * otherwise an absolute amount in the knob's unit. Int knobs may always move by 1.
   * Default: factor 1.5 (log) or 25 % of the range. Choice knobs have no step limit.
   */
  maxStep?: number;
  default: KnobValue;
}

export class KnobSpaceError extends Error {}

/** Checks a knob list and returns it; throws KnobSpaceError naming the knob on bad input. */
export function validateKnobs(knobs: KnobSpec[]): KnobSpec[] {
  if (knobs.length === 0) throw new KnobSpaceError('no knobs configured');
  const seen = new Set<string>();
  for (const k of knobs) {
    if (!k.name) throw new KnobSpaceError('a knob has no name');
    if (seen.has(k.name)) throw new KnobSpaceError(`knob ${k.name}: defined twice`);
    seen.add(k.name);
    if (k.type === 'choice') {
      if (!k.choices || k.choices.length < 2) throw new KnobSpaceError(`knob ${k.name}: a choice knob needs at least 2 choices`);
      if (!k.choices.includes(String(k.default))) throw new KnobSpaceError(`knob ${k.name}: default ${k.default} is not one of the choices`);
      continue;
    }
    if (k.min === undefined || k.max === undefined || !(k.min < k.max)) throw new KnobSpaceError(`knob ${k.name}: needs min < max`);
    if (k.type === 'int' && (!Number.isInteger(k.min) || !Number.isInteger(k.max))) throw new KnobSpaceError(`knob ${k.name}: int bounds must be integers`);
    if (k.log && k.min <= 0) throw new KnobSpaceError(`knob ${k.name}: a log knob needs min > 0`);
    if (typeof k.default !== 'number' || k.default < k.min || k.default > k.max)
      throw new KnobSpaceError(`knob ${k.name}: default ${k.default} outside [${k.min}, ${k.max}]`);
    if (k.maxStep !== undefined && (!(k.maxStep > 0) || (k.log && k.maxStep <= 1)))
      throw new KnobSpaceError(`knob ${k.name}: maxStep must be > 0 (a factor > 1 for a log knob)`);
  }
  return knobs;
}

export function defaultConfig(knobs: KnobSpec[]): Config {
  const c: Config = {};
  for (const k of knobs) c[k.name] = k.default;
  return c;
}

/** The step limit actually used for a numeric knob (factor for log knobs, amount otherwise). */
export function stepLimit(k: KnobSpec): number {
  if (k.maxStep !== undefined) return k.maxStep;
  return k.log ? 1.5 : 0.25 * ((k.max as number) - (k.min as number));
}

/** The interval a numeric knob may move to from `current` in one change (bounds ∩ step). */
export function allowedInterval(k: KnobSpec, current: number): [number, number] {
  const min = k.min as number;
  const max = k.max as number;
  const step = stepLimit(k);
  let lo: number;
  let hi: number;
  if (k.log) {
    lo = current / step;
    hi = current * step;
  } else {
    lo = current - step;
    hi = current + step;
  }
  if (k.type === 'int') {
    lo = Math.min(Math.ceil(lo - 1e-9), Math.round(current) - 1);
    hi = Math.max(Math.floor(hi + 1e-9), Math.round(current) + 1);
  }
  return [Math.max(min, lo), Math.min(max, hi)];
}

export interface LimitedValue {
  value: KnobValue;
  /** Why the value differs from the proposal ('bounds', 'step'), empty when it does not. */
  limitedBy: Array<'bounds' | 'step' | 'invalid'>;
}

/**
 * The value that may be applied for `proposed` when the knob currently is `current`:
 * inside bounds, inside the step limit, integer-rounded for int knobs. A current value that
 * is itself out of bounds (set by hand) is first brought to the nearest bound.
 */
export function limitValue(k: KnobSpec, current: KnobValue | undefined, proposed: KnobValue): LimitedValue {
  if (k.type === 'choice') {
    const choices = k.choices as string[];
    if (choices.includes(String(proposed))) return { value: String(proposed), limitedBy: [] };
    const fallback = current !== undefined && choices.includes(String(current)) ? String(current) : String(k.default);
    return { value: fallback, limitedBy: ['invalid'] };
  }
  const min = k.min as number;
  const max = k.max as number;
  const limitedBy: LimitedValue['limitedBy'] = [];
  let p = typeof proposed === 'number' ? proposed : Number(proposed);
  if (!Number.isFinite(p)) {
    limitedBy.push('invalid');
    p = typeof current === 'number' && Number.isFinite(current) ? current : (k.default as number);
  }
  let cur = typeof current === 'number' && Number.isFinite(current) ? current : Number(current);
  if (!Number.isFinite(cur)) cur = k.default as number;
  cur = Math.min(max, Math.max(min, cur));
  if (k.type === 'int') p = Math.round(p);
  if (p < min || p > max) {
    limitedBy.push('bounds');
    p = Math.min(max, Math.max(min, p));
  }
  const [lo, hi] = allowedInterval(k, cur);
  if (p < lo || p > hi) {
    limitedBy.push('step');
    p = Math.min(hi, Math.max(lo, p));
    if (k.type === 'int') p = p < cur ? Math.ceil(p - 1e-9) : Math.floor(p + 1e-9);
  }
  return { value: p, limitedBy };
}

/** Applies limitValue to every knob; knobs missing from `proposed` keep their current value. */
export function limitConfig(knobs: KnobSpec[], current: Config, proposed: Config): { config: Config; limited: Record<string, LimitedValue['limitedBy']> } {
  const config: Config = {};
  const limited: Record<string, LimitedValue['limitedBy']> = {};
  for (const k of knobs) {
    const cur = current[k.name] ?? k.default;
    const want = proposed[k.name] ?? cur;
    const r = limitValue(k, cur, want);
    config[k.name] = r.value;
    if (r.limitedBy.length) limited[k.name] = r.limitedBy;
  }
  return { config, limited };
}

/** Encodes configurations into [0,1]^D (log knobs via log, choices one-hot) and back. */
export class KnobSpace {
  readonly dims: number;
  private readonly offsets: number[] = [];

  constructor(readonly knobs: KnobSpec[]) {
    validateKnobs(knobs);
    let d = 0;
    for (const k of knobs) {
      this.offsets.push(d);
      d += k.type === 'choice' ? (k.choices as string[]).length : 1;
    }
    this.dims = d;
  }

  encode(c: Config): number[] {
    const x = new Array<number>(this.dims).fill(0);
    this.knobs.forEach((k, i) => {
      const o = this.offsets[i];
      const v = c[k.name] ?? k.default;
      if (k.type === 'choice') {
        const j = (k.choices as string[]).indexOf(String(v));
        x[o + Math.max(0, j)] = 1;
        return;
      }
      const min = k.min as number;
      const max = k.max as number;
      const n = Math.min(max, Math.max(min, Number(v)));
      x[o] = k.log ? Math.log(n / min) / Math.log(max / min) : (n - min) / (max - min);
    });
    return x;
  }

  decode(x: number[]): Config {
    const c: Config = {};
    this.knobs.forEach((k, i) => {
      const o = this.offsets[i];
      if (k.type === 'choice') {
        const choices = k.choices as string[];
        let best = 0;
        for (let j = 1; j < choices.length; j++) if (x[o + j] > x[o + best]) best = j;
        c[k.name] = choices[best];
        return;
      }
      const min = k.min as number;
      const max = k.max as number;
      const u = Math.min(1, Math.max(0, x[o]));
      let v = k.log ? min * Math.pow(max / min, u) : min + u * (max - min);
      if (k.type === 'int') v = Math.round(v);
      c[k.name] = Math.min(max, Math.max(min, v));
    });
    return c;
  }

  /** Which encoded dimensions belong to a choice knob (kept one-hot when perturbing). */
  choiceBlocks(): Array<{ offset: number; size: number }> {
    const blocks: Array<{ offset: number; size: number }> = [];
    this.knobs.forEach((k, i) => {
      if (k.type === 'choice') blocks.push({ offset: this.offsets[i], size: (k.choices as string[]).length });
    });
    return blocks;
  }

  /** A stable key for a configuration (to recognise repeats). */
  key(c: Config): string {
    return this.knobs.map((k) => `${k.name}=${c[k.name]}`).join(',');
  }
}
