// Records a window of the live store as an incident folder (the API's POST
// /api/v1/incidents and the auto-recorder call this), so what was seen can be replayed.

import type { TelemetryReader } from '../../model/store';
import type { Span } from '../../model/telemetry';
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
  // Spans stream from the store to the file (a 10-minute window at 10k spans/s would be
  // gigabytes as objects); metric points are few enough to take whole.
  let spans = 0;
  const counted = (it: Iterable<Span>): Iterable<Span> => ({
    *[Symbol.iterator]() {
      for (const s of it) {
        spans++;
        yield s;
      }
    },
  });
  const metrics = reader.queryMetrics({ fromMs, toMs });
  const b = options.baseline;
  const written = await writeIncident(
    dir,
    {
      meta,
      spans: counted(reader.spansInRange(fromMs, toMs)),
      metrics,
      baseline: b ? { spans: reader.spansInRange(b.fromMs, b.toMs), metrics: reader.queryMetrics({ fromMs: b.fromMs, toMs: b.toMs }) } : undefined,
    },
    { gzip: options.gzip },
  );
  return { ...written, meta, spans, metricPoints: metrics.length, fromMs, toMs };
}
