// How knob values reach a service and how the tuner learns what is actually in effect:
// the service's admin endpoint over HTTP, a config file plus a signal, or a command.
// Each apply returns the configuration read back afterwards: services clamp, and the
// audit must record what they run, not what was asked (MLOS #403).

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import type { Config } from './space';

export interface KnobApplier {
  /** Instances that can be changed one at a time (the first is the canary). At least one. */
  instances(): string[];
  read(instance: string): Promise<Config>;
  /** Applies `values` to one instance; resolves to the configuration read back afterwards. */
  apply(instance: string, values: Config): Promise<Config>;
}

export class ApplyError extends Error {
  constructor(
    message: string,
    /** The service refused the values (e.g. HTTP 400): nothing changed. */
    readonly refused: boolean,
  ) {
    super(message);
  }
}

export interface HttpTarget {
  /** Instance id as telemetry names it (service.instance.id). */
  instance: string;
  /** Base URL; the admin endpoint is `${url}/admin/knobs`. */
  url: string;
}

/**
 * Accepts `{name: value}` and the demo services' richer `{generation, knobs: {name: {…spec, value}}}`.
 */
export function knobValues(body: Record<string, unknown>): Config {
  const inner = body.knobs && typeof body.knobs === 'object' && !Array.isArray(body.knobs) ? (body.knobs as Record<string, unknown>) : body;
  const out: Config = {};
  for (const [k, v] of Object.entries(inner)) {
    if (typeof v === 'number' || typeof v === 'string') out[k] = v;
    else if (v && typeof v === 'object' && 'value' in v) {
      const val = (v as { value: unknown }).value;
      if (typeof val === 'number' || typeof val === 'string') out[k] = val;
    }
  }
  return out;
}

/** `GET /admin/knobs` → {name: value} (or the demo's described form); `PUT /admin/knobs {name: value}` (400 when refused). */
export class HttpKnobApplier implements KnobApplier {
  constructor(
    private readonly targets: HttpTarget[],
    private readonly timeoutMs = 5000,
  ) {
    if (targets.length === 0) throw new Error('HttpKnobApplier: no targets');
  }

  instances(): string[] {
    return this.targets.map((t) => t.instance);
  }

  private url(instance: string): string {
    const t = this.targets.find((x) => x.instance === instance);
    if (!t) throw new ApplyError(`unknown instance ${instance}`, true);
    return t.url.replace(/\/+$/, '') + '/admin/knobs';
  }

  async read(instance: string): Promise<Config> {
    const url = this.url(instance);
    const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) throw new ApplyError(`GET ${url}: HTTP ${res.status}`, false);
    const body = (await res.json()) as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApplyError(`GET ${url}: expected a JSON object of knobs`, false);
    return knobValues(body as Record<string, unknown>);
  }

  async apply(instance: string, values: Config): Promise<Config> {
    const url = this.url(instance);
    const res = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(values),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) {
      const text = (await res.text()).slice(0, 500);
      throw new ApplyError(`PUT ${url}: HTTP ${res.status} ${text}`, res.status >= 400 && res.status < 500);
    }
    await res.arrayBuffer().catch(() => undefined);
    return this.read(instance);
  }
}

export interface FileApplierOptions {
  instance: string;
  file: string;
  format?: 'json' | 'yaml';
  /** Signal the process after writing: its pid, or a file holding it. */
  pid?: number;
  pidFile?: string;
  signal?: NodeJS.Signals;
}

/**
 * Writes the knobs into a config file (atomically: temp file + rename) and signals the
 * process to reload. The read-back is the file: the process cannot tell us more.
 */
export class FileKnobApplier implements KnobApplier {
  constructor(private readonly opts: FileApplierOptions) {}

  instances(): string[] {
    return [this.opts.instance];
  }

  async read(): Promise<Config> {
    if (!fs.existsSync(this.opts.file)) return {};
    const text = fs.readFileSync(this.opts.file, 'utf8');
    const parsed = (this.opts.format === 'yaml' ? YAML.parse(text) : JSON.parse(text)) as unknown;
    if (!parsed || typeof parsed !== 'object') throw new ApplyError(`${this.opts.file}: not an object of knobs`, false);
    return parsed as Config;
  }

  async apply(_instance: string, values: Config): Promise<Config> {
    const existing = await this.read();
    const merged = { ...existing, ...values };
    const text = this.opts.format === 'yaml' ? YAML.stringify(merged) : JSON.stringify(merged, null, 2) + '\n';
    const tmp = path.join(path.dirname(this.opts.file), `.${path.basename(this.opts.file)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, text);
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, this.opts.file);
    const pid = this.opts.pid ?? (this.opts.pidFile ? Number(fs.readFileSync(this.opts.pidFile, 'utf8').trim()) : undefined);
    if (pid !== undefined) {
      if (!Number.isInteger(pid) || pid <= 0) throw new ApplyError(`bad pid ${pid} (pidFile ${this.opts.pidFile})`, false);
      process.kill(pid, this.opts.signal ?? 'SIGHUP');
    }
    return this.read();
  }
}

export interface CommandApplierOptions {
  instance: string;
  /** argv printing the knobs as a JSON object on stdout. */
  readCommand: string[];
  /** argv applying knobs given as a JSON object on stdin (also in env FAULTLINE_KNOBS). */
  applyCommand: string[];
  timeoutMs?: number;
}

function run(argv: string[], input: string | undefined, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0], argv.slice(1), { env, timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new ApplyError(`${argv.join(' ')}: ${err.message} ${String(stderr).slice(0, 300)}`, (err as { code?: unknown }).code === 2));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs commands (no shell): one prints the knobs, one applies them (exit 2 = refused). */
export class CommandKnobApplier implements KnobApplier {
  constructor(private readonly opts: CommandApplierOptions) {
    if (!opts.readCommand.length || !opts.applyCommand.length) throw new Error('CommandKnobApplier: readCommand and applyCommand are required');
  }

  instances(): string[] {
    return [this.opts.instance];
  }

  async read(): Promise<Config> {
    const out = await run(this.opts.readCommand, undefined, process.env, this.opts.timeoutMs ?? 10_000);
    try {
      return JSON.parse(out) as Config;
    } catch {
      throw new ApplyError(`${this.opts.readCommand.join(' ')}: did not print a JSON object`, false);
    }
  }

  async apply(_instance: string, values: Config): Promise<Config> {
    const json = JSON.stringify(values);
    await run(this.opts.applyCommand, json, { ...process.env, FAULTLINE_KNOBS: json }, this.opts.timeoutMs ?? 10_000);
    return this.read();
  }
}

/**
 * Knob specs from an admin endpoint that describes its knobs (the demo services' form
 * `{knobs: {name: {min, max, default, integer, value}}}`), for running without a config
 * file. Wide positive ranges are searched in log space; a lower bound of 0 becomes 1 (int)
 * or max/1000 (float) there, because log space cannot reach 0.
 */
export async function discoverKnobSpecs(baseUrl: string, names?: string[], timeoutMs = 5000): Promise<import('./space').KnobSpec[]> {
  const url = baseUrl.replace(/\/+$/, '') + '/admin/knobs';
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new ApplyError(`GET ${url}: HTTP ${res.status}`, false);
  const body = (await res.json()) as { knobs?: Record<string, { min?: number; max?: number; integer?: boolean; value?: number }> };
  if (!body.knobs || typeof body.knobs !== 'object') throw new ApplyError(`GET ${url}: the target does not describe its knobs (no "knobs" with min/max); give --config`, false);
  const specs: import('./space').KnobSpec[] = [];
  for (const [name, d] of Object.entries(body.knobs)) {
    if (names && !names.includes(name)) continue;
    if (typeof d?.min !== 'number' || typeof d?.max !== 'number' || typeof d.value !== 'number' || !(d.max > d.min)) continue;
    const integer = d.integer === true;
    let min = d.min;
    const max = d.max;
    const wide = max >= 20 * Math.max(min, integer ? 1 : max / 1000);
    const log = wide;
    if (log && min <= 0) min = integer ? 1 : max / 1000;
    const value = Math.min(max, Math.max(min, d.value));
    specs.push({ name, type: integer ? 'int' : 'float', min, max, log, default: value });
  }
  if (names) for (const n of names) if (!specs.some((s) => s.name === n)) throw new ApplyError(`${url}: no numeric knob "${n}" with min/max`, false);
  if (specs.length === 0) throw new ApplyError(`${url}: no numeric knobs with min/max to tune`, false);
  return specs;
}
