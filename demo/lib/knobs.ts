// Runtime knobs of one demo service: typed bounds, validation, and a generation counter
// that moves on every change so a configuration change is visible as telemetry
// (the `app.config.generation` gauge and the `app.config.generation` span attribute).

export interface KnobSpec {
  min: number;
  max: number;
  default: number;
  integer?: boolean;
  unit?: string;
  help: string;
  /** The value the `config` fault applies ("a bad but in-bounds setting"). */
  bad?: number;
}

export type KnobSpecs = Record<string, KnobSpec>;

export class KnobError extends Error {}

export class Knobs {
  private readonly values = new Map<string, number>();
  private gen = 0;
  private readonly listeners: Array<(name: string, value: number) => void> = [];

  constructor(readonly specs: KnobSpecs) {
    for (const [name, spec] of Object.entries(specs)) this.values.set(name, spec.default);
  }

  get(name: string): number {
    const v = this.values.get(name);
    if (v === undefined) throw new KnobError(`unknown knob '${name}'`);
    return v;
  }

  get generation(): number {
    return this.gen;
  }

  all(): Record<string, number> {
    return Object.fromEntries(this.values);
  }

  describe(): Record<string, KnobSpec & { value: number }> {
    const out: Record<string, KnobSpec & { value: number }> = {};
    for (const [name, spec] of Object.entries(this.specs)) out[name] = { ...spec, value: this.get(name) };
    return out;
  }

  onChange(fn: (name: string, value: number) => void): void {
    this.listeners.push(fn);
  }

  /** Validates every entry first, then applies all of them (one generation step per call). */
  set(update: unknown): Record<string, number> {
    if (typeof update !== 'object' || update === null || Array.isArray(update)) {
      throw new KnobError('body must be a JSON object {"knobName": number, ...}');
    }
    const entries = Object.entries(update as Record<string, unknown>);
    if (entries.length === 0) throw new KnobError('no knobs given; known knobs: ' + Object.keys(this.specs).join(', '));
    for (const [name, value] of entries) {
      const spec = this.specs[name];
      if (!spec) throw new KnobError(`unknown knob '${name}'; known knobs: ${Object.keys(this.specs).join(', ') || '(none)'}`);
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new KnobError(`knob '${name}' must be a finite number, got ${JSON.stringify(value)}`);
      if (spec.integer && !Number.isInteger(value)) throw new KnobError(`knob '${name}' must be an integer, got ${value}`);
      if (value < spec.min || value > spec.max) throw new KnobError(`knob '${name}' = ${value} is out of bounds [${spec.min}, ${spec.max}]`);
    }
    for (const [name, value] of entries) {
      this.values.set(name, value as number);
      for (const fn of this.listeners) fn(name, value as number);
    }
    this.gen++;
    return this.all();
  }
}
