// Turning a request's {lastMinutes} or {fromMs, toMs} into a time window.
// "The last N minutes" count back from the newest telemetry the store holds (live, that
// is now; for a store fed from a recording, it is the recording's end), so a quiet period
// or replayed data still gives the window an SRE means. The window never starts before the
// oldest telemetry held.

import type { TelemetryReader } from '../../model/store';
import { ApiError } from './errors';

export interface WindowRequest {
  lastMinutes?: number;
  fromMs?: number;
  toMs?: number;
}

export function resolveWindow(store: TelemetryReader, req: WindowRequest, defaultMinutes?: number): { fromMs: number; toMs: number } {
  if (req.fromMs !== undefined || req.toMs !== undefined) {
    if (req.lastMinutes !== undefined) throw new ApiError(400, 'validation', 'give either lastMinutes or fromMs and toMs, not both');
    if (req.fromMs === undefined || req.toMs === undefined) throw new ApiError(400, 'validation', 'fromMs and toMs must be given together');
    if (req.toMs <= req.fromMs) throw new ApiError(400, 'validation', `toMs (${req.toMs}) must be after fromMs (${req.fromMs})`);
    return { fromMs: req.fromMs, toMs: req.toMs };
  }
  const minutes = req.lastMinutes ?? defaultMinutes;
  if (minutes === undefined) throw new ApiError(400, 'validation', 'give lastMinutes, or fromMs and toMs');
  const range = store.timeRange();
  if (!range) {
    const now = Date.now();
    return { fromMs: now - minutes * 60_000, toMs: now };
  }
  const toMs = range.toMs + 1;
  // Not before the oldest data held: an empty lead-in would look like a change in throughput.
  return { fromMs: Math.max(range.fromMs, toMs - minutes * 60_000), toMs };
}
