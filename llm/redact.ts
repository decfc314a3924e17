// Redaction before anything leaves the process. Each distinct secret becomes a stable
// placeholder (<email-1>, <ip-2>) so the model can still tell two users or two hosts apart
// and refer to them; the mapping stays in this object (never stored, never sent), and
// restore() maps the model's tool arguments back before they query the store.

import type { LlmConfig } from './config';
import { DEFAULT_REDACTED_KEYS } from './config';

const PLACEHOLDER = /<([a-z0-9-]+)-(\d+)>/g;

export class Redactor {
  private readonly patterns: Array<{ name: string; re: RegExp }>;
  private readonly keyPatterns: RegExp[];
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counters = new Map<string, number>();
  /** How many values each pattern replaced (for the audit record). */
  readonly counts: Record<string, number> = {};

  constructor(redact: LlmConfig['redact']) {
    this.patterns = redact.patterns.map((p) => {
      const flags = new Set(((p.flags ?? '') + 'g').split(''));
      return { name: p.name.replace(/[^a-z0-9-]/gi, '-').toLowerCase(), re: new RegExp(p.regex, [...flags].join('')) };
    });
    this.keyPatterns = (redact.keys ?? DEFAULT_REDACTED_KEYS).map((k) => new RegExp(k, 'i'));
  }

  private placeholder(name: string, original: string): string {
    const known = this.byValue.get(original);
    if (known) return known;
    const n = (this.counters.get(name) ?? 0) + 1;
    this.counters.set(name, n);
    const p = `<${name}-${n}>`;
    this.byValue.set(original, p);
    this.byPlaceholder.set(p, original);
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    return p;
  }

  /** Replaces every match of every pattern, in order. */
  text(s: string): string {
    let out = s;
    for (const { name, re } of this.patterns) {
      re.lastIndex = 0;
      out = out.replace(re, (m) => this.placeholder(name, m));
    }
    return out;
  }

  /** True when the attribute key names something secret whatever its value looks like. */
  isSecretKey(key: string): boolean {
    return this.keyPatterns.some((re) => re.test(key));
  }

  /** One attribute value: withheld wholesale for secret keys, else pattern-redacted as text. */
  attribute(key: string, value: unknown): string | number | boolean {
    if (this.isSecretKey(key)) return this.placeholder('withheld', `${key}=${String(value)}`);
    if (typeof value === 'string') return this.text(value);
    if (typeof value === 'number') {
      // Integers long enough to be ids go through the patterns; measurements stay numbers.
      if (Number.isInteger(value) && Math.abs(value) >= 100_000) {
        const t = this.text(String(value));
        return t === String(value) ? value : t;
      }
      return value;
    }
    if (typeof value === 'boolean') return value;
    return this.text(JSON.stringify(value));
  }

  attributes(attrs: Record<string, unknown>, maxKeys = 24): Record<string, string | number | boolean> {
    const out: Record<string, string | number | boolean> = {};
    for (const k of Object.keys(attrs).slice(0, maxKeys)) out[this.text(k)] = this.attribute(k, attrs[k]);
    return out;
  }

  /** Deep copy with every string redacted (numbers are left alone: they are measurements and times). */
  deep<T>(v: T): T {
    if (typeof v === 'string') return this.text(v) as T;
    if (Array.isArray(v)) return v.map((x) => this.deep(x)) as T;
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = this.deep(x);
      return out as T;
    }
    return v;
  }

  /** Maps placeholders the model echoes back to the original values (for local use only). */
  restore(s: string): string {
    return s.replace(PLACEHOLDER, (m) => this.byPlaceholder.get(m) ?? m);
  }

  restoreDeep<T>(v: T): T {
    if (typeof v === 'string') return this.restore(v) as T;
    if (Array.isArray(v)) return v.map((x) => this.restoreDeep(x)) as T;
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = this.restoreDeep(x);
      return out as T;
    }
    return v;
  }
}
