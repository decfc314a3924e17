// Prometheus scraper: pulls neighbours' /metrics on an interval and writes MetricPoints to the
// sink, attributed to each target's service/instance/host. Like Prometheus it records `up`
// and `scrape_duration_seconds` per target; unlike Prometheus a malformed line costs only
// that line (it is counted and named in health), not the whole scrape.

import type { SelfMetrics } from '../../agent/self-metrics';
import type { Component, ComponentHealth } from '../../model/component';
import type { TelemetrySink } from '../../model/sink';
import type { MetricPoint } from '../../model/telemetry';
import { familiesToMetricPoints, type TargetAttribution } from './convert';
import { parsePrometheusText, type PromParseError } from './parse';

export { parsePrometheusText } from './parse';
export type { ParsedFamily, PromSample, PromParseResult, PromParseError, PromMetricType } from './parse';
export { familiesToMetricPoints } from './convert';

export interface PrometheusTarget {
  url: string;
  service: string;
  /** Default: host:port of the url (Prometheus' `instance`). */
  instance?: string;
  /** Default: the url's hostname. */
  host?: string;
  /** Added to every series; they win over scraped labels of the same name (kept as exported_<name>). */
  labels?: Record<string, string>;
}

export interface PrometheusScrapeConfig {
  targets: PrometheusTarget[];
  intervalMs: number;
  timeoutMs: number;
  maxBodyBytes: number;
}

export function defaultPrometheusScrapeConfig(): PrometheusScrapeConfig {
  return { targets: [], intervalMs: 15_000, timeoutMs: 10_000, maxBodyBytes: 16 * 1024 * 1024 };
}

export const SCRAPE_ACCEPT = 'text/plain;version=0.0.4';
const RECEIVER = 'prometheus';

export interface PrometheusScrapeDeps {
  metrics?: SelfMetrics;
  now?: () => number;
}

interface TargetState {
  target: PrometheusTarget;
  attribution: TargetAttribution;
  component: string;
  health: ComponentHealth;
  inFlight?: Promise<void>;
  abort?: AbortController;
}

class ScrapeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Validates one target, naming what is wrong (config errors are the operator's to fix). */
export function resolveTarget(t: PrometheusTarget): TargetAttribution {
  let url: URL;
  try {
    url = new URL(t.url);
  } catch {
    throw new Error(`prometheus target "${t.url}": not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`prometheus target "${t.url}": only http and https are supported`);
  if (!t.service) throw new Error(`prometheus target "${t.url}": service is required`);
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  return {
    service: t.service,
    instance: t.instance ?? `${url.hostname}:${url.port || defaultPort}`,
    host: t.host ?? url.hostname,
    labels: t.labels,
  };
}

async function readBodyLimited(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw new ScrapeError(`body of ${declared} bytes exceeds maxBodyBytes ${maxBytes}`, 'too_large');
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ScrapeError(`body exceeds maxBodyBytes ${maxBytes}`, 'too_large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeFetchError(e: unknown, timeoutMs: number): ScrapeError {
  if (e instanceof ScrapeError) return e;
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return new ScrapeError(`timed out after ${timeoutMs} ms`, 'timeout');
  const cause = err?.cause;
  if (cause?.code) return new ScrapeError(`${cause.code}: ${cause.message ?? err.message}`, 'error');
  return new ScrapeError(err?.message ?? String(e), 'error');
}

function summarizeErrors(errors: PromParseError[]): string {
  const first = errors.slice(0, 3).map((e) => `line ${e.line}: ${e.message}`).join('; ');
  return `${errors.length} malformed line(s) skipped (${first}${errors.length > 3 ? '; ...' : ''})`;
}

export function createPrometheusScraper(
  config: PrometheusScrapeConfig,
  sink: TelemetrySink,
  deps: PrometheusScrapeDeps = {},
): Component & { scrapeOnce(): Promise<void> } {
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics;
  const states: TargetState[] = config.targets.map((target) => {
    const attribution = resolveTarget(target);
    const component = `prometheus:${attribution.service}/${attribution.instance}`;
    return { target, attribution, component, health: { component, status: 'ok', message: 'not scraped yet', sinceMs: now() } };
  });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const setHealth = (st: TargetState, status: ComponentHealth['status'], message?: string) => {
    const sinceMs = st.health.status === status ? st.health.sinceMs : now();
    st.health = { component: st.component, status, ...(message ? { message } : {}), sinceMs };
  };

  const deliver = (points: MetricPoint[]) => {
    if (points.length === 0) return;
    const r = sink.consumeMetrics(points);
    if (r.ok) {
      metrics?.received.inc({ signal: 'metrics', receiver: RECEIVER }, r.accepted);
      if (r.rejected > 0) metrics?.rejected.inc({ signal: 'metrics', receiver: RECEIVER, reason: 'unsupported' }, r.rejected);
    } else {
      // A pull has no sender to push back on: the points of this scrape are lost.
      metrics?.dropped.inc({ signal: 'metrics', component: RECEIVER, reason: r.retryable ? 'overload' : 'refused' }, points.length);
    }
  };

  const scrapeTarget = async (st: TargetState): Promise<void> => {
    const startMs = now();
    const t0 = process.hrtime.bigint();
    const abort = new AbortController();
    st.abort = abort;
    const timeout = setTimeout(() => abort.abort(new DOMException('scrape timeout', 'TimeoutError')), config.timeoutMs);
    let up = 0;
    let samples = 0;
    let points: MetricPoint[] = [];
    try {
      const res = await fetch(st.target.url, {
        headers: { Accept: SCRAPE_ACCEPT, 'X-Prometheus-Scrape-Timeout-Seconds': String(config.timeoutMs / 1000) },
        signal: abort.signal,
        redirect: 'follow',
      });
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        throw new ScrapeError(`HTTP ${res.status} ${res.statusText}`.trim(), String(res.status));
      }
      const body = await readBodyLimited(res, config.maxBodyBytes);
      const openMetrics = (res.headers.get('content-type') ?? '').includes('application/openmetrics-text');
      const parsed = parsePrometheusText(body, { openMetrics });
      for (const f of parsed.families) samples += f.samples.length;
      if (parsed.errors.length > 0) metrics?.rejected.inc({ signal: 'metrics', receiver: RECEIVER, reason: 'malformed' }, parsed.errors.length);
      // A body with content but not one valid sample is not a metrics endpoint.
      if (samples === 0 && parsed.errors.length > 0) throw new ScrapeError(`no valid sample: ${summarizeErrors(parsed.errors)}`, 'malformed');
      points = familiesToMetricPoints(parsed.families, st.attribution, startMs).points;
      up = 1;
      metrics?.requests.inc({ receiver: RECEIVER, signal: 'metrics', code: '200' });
      if (parsed.errors.length > 0) setHealth(st, 'degraded', summarizeErrors(parsed.errors));
      else setHealth(st, 'ok');
    } catch (e) {
      const err = abort.signal.aborted && stopped ? new ScrapeError('stopped', 'stopped') : describeFetchError(e, config.timeoutMs);
      metrics?.requests.inc({ receiver: RECEIVER, signal: 'metrics', code: err.code });
      if (!stopped) setHealth(st, 'degraded', `scrape of ${st.target.url} failed: ${err.message}`);
    } finally {
      clearTimeout(timeout);
      st.abort = undefined;
    }
    if (stopped) return;
    const durationS = Number(process.hrtime.bigint() - t0) / 1e9;
    const meta = (name: string, unit: string, value: number): MetricPoint => ({
      name,
      unit,
      kind: 'gauge',
      service: st.attribution.service,
      instance: st.attribution.instance,
      host: st.attribution.host,
      labels: { ...(st.attribution.labels ?? {}) },
      timeMs: startMs,
      value,
    });
    points.push(meta('up', '', up), meta('scrape_duration_seconds', 's', durationS), meta('scrape_samples_scraped', '', samples));
    deliver(points);
  };

  // One scrape per target at a time: a slow target skips a tick instead of piling up.
  const scrapeTargetOnce = (st: TargetState): Promise<void> => {
    // A throwing sink must not become an unhandled rejection that ends the process.
    if (!st.inFlight)
      st.inFlight = scrapeTarget(st)
        .catch((e: Error) => setHealth(st, 'degraded', `delivering scraped points failed: ${e.message}`))
        .finally(() => (st.inFlight = undefined));
    return st.inFlight;
  };

  const scrapeOnce = async (): Promise<void> => {
    await Promise.all(states.map(scrapeTargetOnce));
  };

  return {
    scrapeOnce,
    async start() {
      stopped = false;
      if (states.length === 0 || timer) return;
      void scrapeOnce();
      timer = setInterval(() => void scrapeOnce(), config.intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const st of states) st.abort?.abort();
      await Promise.all(states.map((st) => st.inFlight ?? Promise.resolve()));
    },
    health(): ComponentHealth[] {
      if (states.length === 0) return [{ component: 'prometheus', status: 'disabled', message: 'no scrape targets configured' }];
      return states.map((st) => ({ ...st.health }));
    },
  };
}
