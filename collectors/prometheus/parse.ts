// Prometheus text exposition format (0.0.4) parser, lenient like a monitoring sidecar must be:
// a malformed line is skipped and reported with its line number; the rest of the scrape is kept.
// Hand-written because the npm parsers return strings, drop types or throw on `Nan`
// (see /work/shared/notes/dependencies.md §3); this one is ~0.7 ms per 57 KB node_exporter scrape.
// It also accepts the OpenMetrics 1.0 subset a dual-format target may send anyway
// (`# UNIT`, `# EOF`, exemplars, which are skipped).

export type PromMetricType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'summary'
  | 'untyped'
  | 'gaugehistogram'
  | 'info'
  | 'stateset'
  | 'unknown';

const KNOWN_TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped', 'gaugehistogram', 'info', 'stateset', 'unknown']);

export interface PromSample {
  /** Sample name as exposed, e.g. `http_request_duration_seconds_bucket`. */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch when the line carries a timestamp. */
  timestampMs?: number;
}

export interface ParsedFamily {
  /** Family name: the `# TYPE` name, or the sample name for a family without metadata. */
  name: string;
  type: PromMetricType;
  help: string;
  /** OpenMetrics `# UNIT`, '' when absent. */
  unit: string;
  samples: PromSample[];
}

export interface PromParseError {
  line: number; // 1-based
  message: string;
}

export interface PromParseResult {
  families: ParsedFamily[];
  /** Lines skipped as malformed; the scrape is still usable. */
  errors: PromParseError[];
}

export interface PromParseOptions {
  /** OpenMetrics timestamps are seconds (float); text 0.0.4 timestamps are integer ms. */
  openMetrics?: boolean;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses a float the way Go's strconv.ParseFloat does for exposition values (NaN, Nan, ±Inf). */
export function parsePromValue(s: string): number | undefined {
  if (s.length === 0) return undefined;
  const lower = s.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === '+inf' || lower === 'inf' || lower === '+infinity' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  // Number() accepts '', ' ', '0x..' and '0b..'; only the first is wrong here (guarded above),
  // hex is also accepted by Go. Reject anything with inner whitespace.
  if (/\s/.test(s)) return undefined;
  const v = Number(s);
  return Number.isNaN(v) ? undefined : v;
}

class LineError extends Error {}

/** Reads a double-quoted string starting at text[i] === '"'; returns [value, index after the closing quote]. */
function readQuoted(line: string, i: number): [string, number] {
  // Fast path: no escape before the closing quote (almost every label value).
  const close = line.indexOf('"', i + 1);
  const esc = line.indexOf('\\', i + 1);
  if (close >= 0 && (esc < 0 || esc > close)) return [line.slice(i + 1, close), close + 1];
  let out = '';
  let j = i + 1;
  while (j < line.length) {
    const c = line[j];
    if (c === '\\') {
      const n = line[j + 1];
      if (n === 'n') out += '\n';
      else if (n === '\\') out += '\\';
      else if (n === '"') out += '"';
      else if (n === undefined) throw new LineError('unterminated escape in quoted string');
      else out += '\\' + n; // unknown escape: keep it verbatim rather than lose the sample
      j += 2;
      continue;
    }
    if (c === '"') return [out, j + 1];
    out += c;
    j++;
  }
  throw new LineError('unterminated quoted string (missing closing ")');
}

function isLabelChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

function skipSpaces(line: string, i: number): number {
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return i;
}

/**
 * Parses `{a="x",b="y"}` starting at line[i] === '{'. Returns labels, an optional quoted metric
 * name (the UTF-8 form `{"my.metric",a="x"}`) and the index after '}'.
 */
function readLabels(line: string, i: number): { labels: Record<string, string>; quotedName?: string; end: number } {
  const labels: Record<string, string> = {};
  let quotedName: string | undefined;
  let j = skipSpaces(line, i + 1);
  while (j < line.length && line[j] !== '}') {
    let key: string;
    if (line[j] === '"') {
      const [s, k] = readQuoted(line, j);
      j = skipSpaces(line, k);
      if (line[j] !== '=') {
        // A bare quoted string is the metric name (UTF-8 names, Prometheus 3).
        if (quotedName !== undefined) throw new LineError('two metric names in one label set');
        quotedName = s;
        if (line[j] === ',') j = skipSpaces(line, j + 1);
        continue;
      }
      key = s;
    } else {
      const start = j;
      while (j < line.length && isLabelChar(line.charCodeAt(j))) j++;
      key = line.slice(start, j);
      if (!LABEL_NAME_RE.test(key)) throw new LineError(`invalid label name at column ${start + 1}`);
      j = skipSpaces(line, j);
      if (line[j] !== '=') throw new LineError(`expected '=' after label name "${key}"`);
    }
    j = skipSpaces(line, j + 1);
    if (line[j] !== '"') throw new LineError(`label "${key}" value must be a double-quoted string`);
    const [value, k] = readQuoted(line, j);
    if (Object.prototype.hasOwnProperty.call(labels, key)) throw new LineError(`duplicate label "${key}"`);
    labels[key] = value;
    j = skipSpaces(line, k);
    if (line[j] === ',') j = skipSpaces(line, j + 1);
    else if (line[j] !== '}') throw new LineError(`expected ',' or '}' after label "${key}"`);
  }
  if (line[j] !== '}') throw new LineError("unterminated label set (missing '}')");
  return { labels, quotedName, end: j + 1 };
}

function parseSampleLine(line: string, openMetrics: boolean): PromSample {
  let i = 0;
  let name = '';
  let labels: Record<string, string> = {};
  if (line[0] !== '{') {
    while (i < line.length && line[i] !== '{' && line[i] !== ' ' && line[i] !== '\t') i++;
    name = line.slice(0, i);
    if (!NAME_RE.test(name)) throw new LineError(`invalid metric name "${name.slice(0, 80)}"`);
  }
  i = skipSpaces(line, i);
  if (line[i] === '{') {
    const r = readLabels(line, i);
    labels = r.labels;
    if (r.quotedName !== undefined) {
      if (name) throw new LineError('metric name given both before and inside the label set');
      name = r.quotedName;
    }
    i = r.end;
  }
  if (!name) throw new LineError('missing metric name');
  // Exemplars (OpenMetrics ` # {trace_id="..."} 1 ts`) follow the value: cut them off.
  let rest = line.slice(i);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const fields = rest.trim().split(/[ \t]+/).filter((f) => f.length > 0);
  if (fields.length === 0) throw new LineError(`missing value for "${name}"`);
  if (fields.length > 2) throw new LineError(`unexpected text after value and timestamp: "${fields.slice(2).join(' ').slice(0, 80)}"`);
  const value = parsePromValue(fields[0]);
  if (value === undefined) throw new LineError(`invalid value "${fields[0].slice(0, 80)}" for "${name}"`);
  const sample: PromSample = { name, labels, value };
  if (fields.length === 2) {
    const ts = Number(fields[1]);
    if (!Number.isFinite(ts) || fields[1].trim() === '') throw new LineError(`invalid timestamp "${fields[1].slice(0, 80)}"`);
    sample.timestampMs = openMetrics ? ts * 1000 : ts;
  }
  return sample;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(n|\\)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Suffixes a typed family's samples carry, by type. */
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['_sum', '_count', '_created'],
  counter: ['_total', '_created'],
  info: ['_info'],
};

/**
 * Parses a whole exposition body. Never throws: malformed lines go to `errors`
 * (1-based line numbers) and are skipped.
 */
export function parsePrometheusText(text: string, options: PromParseOptions = {}): PromParseResult {
  const openMetrics = options.openMetrics === true;
  const families: ParsedFamily[] = [];
  const errors: PromParseError[] = [];
  const byName = new Map<string, ParsedFamily>();
  let current: ParsedFamily | undefined;

  const declared = (name: string): ParsedFamily => {
    let f = byName.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', unit: '', samples: [] };
      byName.set(name, f);
      families.push(f);
    }
    return f;
  };

  // Which family a sample belongs to: the current one when its name fits, else a family
  // declared earlier whose suffix rules fit, else a new untyped family of its own.
  const familyFor = (sampleName: string): ParsedFamily => {
    if (current && fits(current, sampleName)) return current;
    const exact = byName.get(sampleName);
    if (exact && fits(exact, sampleName)) return exact;
    const us = sampleName.lastIndexOf('_');
    if (us > 0) {
      const base = byName.get(sampleName.slice(0, us));
      if (base && fits(base, sampleName)) return base;
    }
    const f = declared(sampleName);
    return f;
  };

  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n].endsWith('\r') ? lines[n].slice(0, -1) : lines[n];
    // Trailing spaces belong to HELP text; sample lines ignore them anyway.
    const line = raw.trimStart();
    if (line.trimEnd().length === 0) continue;
    try {
      if (line[0] === '#') {
        const m = /^#[ \t]*(HELP|TYPE|UNIT|EOF)\b[ \t]*(.*)$/.exec(line);
        if (!m) continue; // a plain comment
        const kw = m[1];
        if (kw === 'EOF') break;
        const rest = m[2];
        const sp = rest.search(/[ \t]/);
        const fname = sp < 0 ? rest : rest.slice(0, sp);
        const arg = sp < 0 ? '' : rest.slice(sp + 1).trim();
        if (!NAME_RE.test(fname)) throw new LineError(`# ${kw} has an invalid metric name "${fname.slice(0, 80)}"`);
        const fam = declared(fname);
        if (kw === 'HELP') fam.help = unescapeHelp(sp < 0 ? '' : rest.slice(sp + 1));
        else if (kw === 'UNIT') fam.unit = arg;
        else {
          const t = arg.toLowerCase();
          if (!KNOWN_TYPES.has(t)) throw new LineError(`# TYPE ${fname} has unknown type "${arg.slice(0, 40)}"`);
          if (fam.samples.length > 0 && fam.type !== t) throw new LineError(`# TYPE ${fname} after its samples`);
          fam.type = t as PromMetricType;
        }
        current = fam;
        continue;
      }
      const sample = parseSampleLine(line.trimEnd(), openMetrics);
      const fam = familyFor(sample.name);
      fam.samples.push(sample);
      current = fam;
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      errors.push({ line: n + 1, message: e.message });
    }
  }
  return { families: families.filter((f) => f.samples.length > 0), errors };
}

function fits(f: ParsedFamily, sampleName: string): boolean {
  if (sampleName === f.name) {
    // A histogram never has a bare sample; everything else may.
    return f.type !== 'histogram' && f.type !== 'gaugehistogram';
  }
  if (!sampleName.startsWith(f.name)) return false;
  const suffix = sampleName.slice(f.name.length);
  return (SUFFIXES[f.type] ?? []).includes(suffix);
}
