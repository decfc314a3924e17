// Writes a recorded-incident folder: incident.json, traces.jsonl, metrics.jsonl and an
// optional baseline/ with the same two files, each line one OTLP/JSON export request of
// bounded size, optionally gzip-compressed. Streams, so a large recording never has to be
// one string in memory.

import { createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { MetricPoint, Span } from '../../model/telemetry';
import { BASELINE_DIR, INCIDENT_FILE, METRICS_FILE, TRACES_FILE, parseIncidentMeta, type IncidentMeta } from './format';
import { encodeMetricRequests, encodeTraceRequests } from './otlp-json';

export interface IncidentContent {
  meta: IncidentMeta;
  spans: Span[];
  metrics: MetricPoint[];
  /** A fault-free recording (spec: baseline/), for incidents that start at the fault. */
  baseline?: { spans: Span[]; metrics: MetricPoint[] };
}

/** What writeIncident takes: spans may be any iterable, so a recording streams them from the store. */
export interface IncidentStream {
  meta: IncidentMeta;
  spans: Iterable<Span>;
  metrics: MetricPoint[];
  baseline?: { spans: Iterable<Span>; metrics: MetricPoint[] };
}

export interface WriteIncidentOptions {
  /** Write traces.jsonl.gz / metrics.jsonl.gz instead of plain files. */
  gzip?: boolean;
  /** Items per line (one export request); bounds line length for readers. Default 1000. */
  maxItemsPerLine?: number;
}

export interface WrittenIncident {
  dir: string;
  files: string[];
}

export async function writeIncident(dir: string, content: IncidentStream, options: WriteIncidentOptions = {}): Promise<WrittenIncident> {
  const meta = parseIncidentMeta(content.meta, 'incident meta');
  const perLine = options.maxItemsPerLine ?? 1000;
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const metaPath = path.join(dir, INCIDENT_FILE);
  await writeFile(metaPath, JSON.stringify(meta, null, 2) + '\n');
  files.push(metaPath);
  files.push(...(await writeTelemetry(dir, content.spans, content.metrics, !!options.gzip, perLine)));
  const baselineDir = path.join(dir, BASELINE_DIR);
  if (content.baseline) {
    await mkdir(baselineDir, { recursive: true });
    files.push(...(await writeTelemetry(baselineDir, content.baseline.spans, content.baseline.metrics, !!options.gzip, perLine)));
  } else {
    // An old baseline next to new data would silently change what "normal" is.
    await rm(baselineDir, { recursive: true, force: true });
  }
  return { dir, files };
}

async function writeTelemetry(dir: string, spans: Iterable<Span>, metrics: MetricPoint[], gzip: boolean, perLine: number): Promise<string[]> {
  const written: string[] = [];
  written.push(await writeLines(dir, TRACES_FILE, encodeTraceRequests(spans, perLine), gzip));
  if (metrics.length > 0) {
    written.push(await writeLines(dir, METRICS_FILE, encodeMetricRequests(metrics, perLine), gzip));
  } else {
    await rm(path.join(dir, METRICS_FILE), { force: true });
    await rm(path.join(dir, METRICS_FILE + '.gz'), { force: true });
  }
  return written;
}

async function writeLines(dir: string, name: string, requests: Iterable<Record<string, unknown>>, gzip: boolean): Promise<string> {
  const target = path.join(dir, gzip ? name + '.gz' : name);
  // Only one of x.jsonl / x.jsonl.gz may exist, or a reader could not tell which is current.
  await rm(path.join(dir, gzip ? name : name + '.gz'), { force: true });
  const lines = Readable.from(
    (function* () {
      for (const r of requests) yield JSON.stringify(r) + '\n';
    })(),
  );
  if (gzip) await pipeline(lines, createGzip(), createWriteStream(target));
  else await pipeline(lines, createWriteStream(target));
  return target;
}
