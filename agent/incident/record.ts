// Records a window of the live store as an incident folder (the API's POST
// /api/v1/incidents and the auto-recorder call this), so what was seen can be replayed.

import type { TelemetryReader } from '../../model/store';
import type { IncidentMeta } from './format';
import { writeIncident, type WrittenIncident } from './writer';

export interface RecordOptions {
  /** Also record a fault-free window as baseline/ (e.g. the same length before the incident). */
  baseline?: { fromMs: number; toMs: number };
  gzip?: boolean;
}

export interface RecordedIncident extends WrittenIncident {
  meta: IncidentMeta;
  spans: number;
  metricPoints: number;
  fromMs: number;
  toMs: number;
}

export async function recordIncident(
  reader: TelemetryReader,
  fromMs: number,
  toMs: number,
  dir: string,
  meta: IncidentMeta,
  options: RecordOptions = {},
): Promise<RecordedIncident> {
  if (!(Number.isFinite(fromMs) && Number.isFinite(toMs)) || toMs <= fromMs) {
    throw new RangeError(`record window must have fromMs < toMs (got ${fromMs} .. ${toMs})`);
  }
  const snapshot = reader.snapshot(fromMs, toMs);
  const baseline = options.baseline ? reader.snapshot(options.baseline.fromMs, options.baseline.toMs) : undefined;
  const written = await writeIncident(
    dir,
    {
      meta,
      spans: snapshot.spans,
      metrics: snapshot.metrics,
      baseline: baseline ? { spans: baseline.spans, metrics: baseline.metrics } : undefined,
    },
    { gzip: options.gzip },
  );
  return { ...written, meta, spans: snapshot.spans.length, metricPoints: snapshot.metrics.length, fromMs, toMs };
}
