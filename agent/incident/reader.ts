// Reads a recorded-incident folder into a Snapshot through exactly the path live data
// takes: each line is an OTLP/JSON export request handed to the OTLP receiver's decoder,
// and the decoded items go into a TelemetryStore, whose snapshot the analyzers get. Files
// are streamed line by line (gzip or not), so a recording never has to fit in one string,
// and every error names the file and the line.

import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { decodeMetrics, decodeTraces } from '../../collectors/otlp/decode';
import type { TelemetrySink } from '../../model/sink';
import type { MetricPoint, Snapshot, Span } from '../../model/telemetry';
import { TelemetryStore } from '../store/telemetry-store';
import { BASELINE_DIR, INCIDENT_FILE, IncidentFormatError, METRICS_FILE, TRACES_FILE, parseIncidentMeta, type IncidentMeta } from './format';

export interface LoadIncidentOptions {
  /**
   * Leave `truth` out of the returned meta. Replay uses this so nothing that produces a
   * ranking can see the answer; the truth is read afterwards with readIncidentTruth().
   */
  withoutTruth?: boolean;
  /** Estimated bytes the in-memory store may hold; a larger incident is an error, not a silent cut. */
  budgetBytes?: number;
}

export interface LoadedIncident {
  meta: IncidentMeta;
  snapshot: Snapshot;
  /** Items the decoder rejected (partial success), one message per file. */
  warnings: string[];
}

export class IncidentReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IncidentReadError';
  }
}

const DEFAULT_BUDGET_BYTES = 6 * 1024 * 1024 * 1024;

export async function loadIncident(dir: string, options: LoadIncidentOptions = {}): Promise<LoadedIncident> {
  await requireDirectory(dir, 'incident folder');
  const meta = await readIncidentMeta(dir);
  if (options.withoutTruth) delete meta.truth;
  const warnings: string[] = [];
  const budgetBytes = options.budgetBytes ?? DEFAULT_BUDGET_BYTES;

  const main = await loadTelemetry(dir, true, budgetBytes, warnings);
  const snapshot: Snapshot = main.snapshot;
  const baselineDir = path.join(dir, BASELINE_DIR);
  if (await isDirectory(baselineDir)) {
    const base = await loadTelemetry(baselineDir, false, budgetBytes, warnings);
    snapshot.baseline = { spans: base.snapshot.spans, metrics: base.snapshot.metrics };
  }
  return { meta, snapshot, warnings };
}

/**
 * incident.json (the spec's only required field is id). A folder written by a plain
 * OpenTelemetry Collector has none: its id is then the folder's name, with no truth.
 */
export async function readIncidentMeta(dir: string): Promise<IncidentMeta> {
  const file = path.join(dir, INCIDENT_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { id: path.basename(path.resolve(dir)) };
    throw new IncidentReadError(`${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new IncidentReadError(`${file}: invalid JSON (${(e as Error).message})`);
  }
  try {
    return parseIncidentMeta(value, file);
  } catch (e) {
    if (e instanceof IncidentFormatError) throw new IncidentReadError(e.message);
    throw e;
  }
}

/** The ground truth alone, for scoring once a ranking exists. */
export async function readIncidentTruth(dir: string): Promise<IncidentMeta['truth']> {
  return (await readIncidentMeta(dir)).truth ?? undefined;
}

async function loadTelemetry(dir: string, tracesRequired: boolean, budgetBytes: number, warnings: string[]): Promise<{ snapshot: Snapshot }> {
  const store = new TelemetryStore({ windowMs: Infinity, budgetBytes });
  const traces = await findDataFile(dir, TRACES_FILE);
  const metrics = await findDataFile(dir, METRICS_FILE);
  if (!traces && tracesRequired) {
    throw new IncidentReadError(`${path.join(dir, TRACES_FILE)}: missing (neither ${TRACES_FILE} nor ${TRACES_FILE}.gz exists)`);
  }
  if (traces) await readRequests(traces, 'traces', store, warnings);
  if (metrics) await readRequests(metrics, 'metrics', store, warnings);
  const stats = store.stats();
  if (stats.evictedSpans > 0 || stats.evictedMetricPoints > 0) {
    throw new IncidentReadError(`${dir}: the recording exceeds the replay memory budget (${Math.round(budgetBytes / 2 ** 20)} MiB estimated); it cannot be analysed whole`);
  }
  const range = store.timeRange();
  const fromMs = range?.fromMs ?? 0;
  const toMs = range ? range.toMs + 1 : 0;
  return { snapshot: store.snapshot(fromMs, toMs) };
}

async function findDataFile(dir: string, name: string): Promise<string | undefined> {
  const plain = path.join(dir, name);
  const gz = plain + '.gz';
  const [hasPlain, hasGz] = await Promise.all([isFile(plain), isFile(gz)]);
  if (hasPlain && hasGz) throw new IncidentReadError(`${dir}: both ${name} and ${name}.gz exist; keep one`);
  return hasPlain ? plain : hasGz ? gz : undefined;
}

/** Stream one .jsonl(.gz) file through the live decoder into the sink. */
async function readRequests(file: string, signal: 'traces' | 'metrics', sink: TelemetrySink, warnings: string[]): Promise<void> {
  // pipeline() forwards a read error of the file to the gunzip stream, whose error the
  // line iterator below then throws, so every failure surfaces in one place.
  const file$ = createReadStream(file);
  const input: Readable = file.endsWith('.gz') ? pipeline(file$, createGunzip(), () => {}) : file$;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let rejected = 0;
  let firstRejection: string | undefined;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let result: { items: Span[] | MetricPoint[]; rejected: number; rejectionMessage?: string };
      try {
        result = signal === 'traces' ? decodeTraces(line, 'json') : decodeMetrics(line, 'json');
      } catch (e) {
        throw new IncidentReadError(`${file}:${lineNo}: not a valid OTLP/JSON ${signal === 'traces' ? 'ExportTraceServiceRequest' : 'ExportMetricsServiceRequest'}: ${(e as Error).message}`);
      }
      if (result.rejected > 0) {
        rejected += result.rejected;
        firstRejection ??= `line ${lineNo}: ${result.rejectionMessage ?? 'invalid item'}`;
      }
      const consumed = signal === 'traces' ? sink.consumeSpans(result.items as Span[]) : sink.consumeMetrics(result.items as MetricPoint[]);
      if (!consumed.ok) throw new IncidentReadError(`${file}:${lineNo}: the store refused the data: ${consumed.message}`);
    }
  } catch (e) {
    if (e instanceof IncidentReadError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const what = code.startsWith('Z_') ? 'not valid gzip (truncated or corrupt)' : 'cannot be read';
    throw new IncidentReadError(`${file}:${lineNo + 1}: ${what}: ${(e as Error).message}`);
  } finally {
    lines.close();
    input.destroy();
  }
  if (rejected > 0) warnings.push(`${file}: ${rejected} ${signal === 'traces' ? 'span(s)' : 'data point(s)'} rejected, first at ${firstRejection}`);
}

async function requireDirectory(dir: string, what: string): Promise<void> {
  let s;
  try {
    s = await stat(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new IncidentReadError(code === 'ENOENT' ? `${dir}: no such ${what}` : `${dir}: ${(e as Error).message}`);
  }
  if (!s.isDirectory()) throw new IncidentReadError(`${dir}: not a directory (an ${what} holds incident.json and traces.jsonl)`);
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
