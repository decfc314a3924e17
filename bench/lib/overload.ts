// The overload scenario, shared by test/robustness/overload.test.ts (bounded, in CI) and
// bench/overload.ts (longer, by hand): a `faultline serve` with small limits is driven well
// past its capacity by load-generator processes, then the load drops. Returns the figures
// and one pass/fail per requirement:
//   shed       - refused with 429/503, and every refusal carried Retry-After
//   overloaded - the offered rate really was several times what was accepted
//   memory     - the memory the limiter governs (V8 heap used + external buffers, read from
//                the sidecar's own /metrics) never above the soft limit + the in-flight
//                allowance + V8's young generation (garbage not yet collected, bounded by
//                V8, not by load) (+ tolerance); and RSS never grew by more than that over
//                the idle process's
//   api        - /healthz answered 200 within apiMaxMs on every probe throughout
//   recovered  - once the load dropped, requests were accepted again

import type { LoadInterval } from '../load-otlp';
import { spawnLoad, spawnSidecar, timedGet } from './processes';

export interface OverloadOptions {
  memorySoftLimitMiB: number;
  storeBudgetMiB: number;
  maxInflightMiB: number;
  /** Seconds between the watcher's detection passes (it snapshots the store window). */
  detectionIntervalSeconds: number;
  generators: number;
  concurrencyPerGenerator: number;
  spansPerRequest: number;
  overloadSeconds: number;
  recoverSeconds: number;
  recoverRate: number;
  /** Tolerated heap + external above the soft limit plus the in-flight allowance, as a fraction of the limit. */
  memoryTolerance: number;
  apiMaxMs: number;
  log?: (msg: string) => void;
}

export const DEFAULT_OVERLOAD: OverloadOptions = {
  memorySoftLimitMiB: 60,
  storeBudgetMiB: 16,
  maxInflightMiB: 2,
  detectionIntervalSeconds: 5,
  generators: 2,
  concurrencyPerGenerator: 64,
  spansPerRequest: 1000,
  overloadSeconds: 20,
  recoverSeconds: 10,
  recoverRate: 1000,
  memoryTolerance: 0.1,
  apiMaxMs: 2000,
};

export interface Check {
  name: 'shed' | 'overloaded' | 'memory' | 'api' | 'recovered';
  pass: boolean;
  detail: string;
}

export interface OverloadResult {
  options: OverloadOptions;
  baselineRssMiB: number;
  peakRssMiB: number;
  endRssMiB: number;
  /** Peak V8 heap used + external memory, as the sidecar's /metrics reported it. */
  peakHeapExternalMiB: number;
  /** Largest size V8's young generation (new space) reached: garbage in waiting, counted in heap used. */
  youngGenerationMiB: number;
  memorySamples: number;
  offeredSpansPerSec: number;
  acceptedSpansPerSec: number;
  shed429: number;
  shed503: number;
  shedWithoutRetryAfter: number;
  retryAfterValues: string[];
  clientErrors: number;
  healthz: { probes: number; failures: number; maxMs: number; p99Ms: number };
  recovery: { intervals: Array<Pick<LoadInterval, 'ok' | 'r429' | 'r503' | 'errors'>>; firstAcceptedAfterS?: number };
  checks: Check[];
  sidecarLog: string;
}

export async function runOverload(partial: Partial<OverloadOptions> = {}): Promise<OverloadResult> {
  const o: OverloadOptions = { ...DEFAULT_OVERLOAD, ...partial };
  const log = o.log ?? (() => {});
  const sc = await spawnSidecar({
    configYaml: [
      'otlp:',
      `  memorySoftLimitMiB: ${o.memorySoftLimitMiB}`,
      `  maxInflightMiB: ${o.maxInflightMiB}`,
      '  retryAfterSeconds: 1',
      `store: { budgetMiB: ${o.storeBudgetMiB} }`,
      `detection: { intervalSeconds: ${o.detectionIntervalSeconds}, autoRecord: false }`,
      '',
    ].join('\n'),
  });
  const loads: Array<ReturnType<typeof spawnLoad>> = [];
  try {
    const baselineRss = sc.rssBytes();
    let peak = baselineRss;
    const sampler = setInterval(() => (peak = Math.max(peak, sc.rssBytes())), 100);
    const probes: number[] = [];
    let failures = 0;
    let probing = true;
    let peakHeapExternal = 0;
    let peakYoungGeneration = 0;
    let memorySamples = 0;
    const prober = (async () => {
      while (probing) {
        const h = await timedGet(`${sc.api}/healthz`, o.apiMaxMs * 3);
        probes.push(h.ms);
        if (h.status !== 200 || h.ms > o.apiMaxMs) failures++;
        const m = await timedGet(`${sc.api}/metrics`, o.apiMaxMs * 3);
        const used = m.status === 200 ? memoryFromMetrics(m.text) : undefined;
        if (used) {
          memorySamples++;
          peakHeapExternal = Math.max(peakHeapExternal, used.heapExternal);
          peakYoungGeneration = Math.max(peakYoungGeneration, used.youngGeneration);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    log(`overload: ${o.generators} generators x ${o.concurrencyPerGenerator} connections, ${o.spansPerRequest} spans/request, ${o.overloadSeconds} s`);
    for (let i = 0; i < o.generators; i++) {
      loads.push(spawnLoad({ url: sc.otlpHttp, rate: 0, seconds: o.overloadSeconds, concurrency: o.concurrencyPerGenerator, spansPerRequest: o.spansPerRequest, pool: 16, timeoutMs: 10_000 }));
    }
    const totals = await Promise.all(loads.map((l) => l.done));
    log(`recovery: ${o.recoverRate} spans/s for ${o.recoverSeconds} s`);
    const recover = spawnLoad({ url: sc.otlpHttp, rate: o.recoverRate, seconds: o.recoverSeconds, concurrency: 4, spansPerRequest: 100, timeoutMs: 5000 });
    loads.push(recover);
    await recover.done;
    probing = false;
    await prober;
    clearInterval(sampler);

    const sum = (k: keyof LoadInterval) => totals.reduce((a, t) => a + (t[k] as number), 0);
    const seconds = Math.max(...totals.map((t) => t.t));
    const offered = sum('sentSpans') / seconds;
    const accepted = sum('okSpans') / seconds;
    const shed429 = sum('r429');
    const shed503 = sum('r503');
    const noRetry = sum('shedWithoutRetryAfter');
    const sorted = [...probes].sort((a, b) => a - b);
    const mib = (b: number) => +(b / 1048576).toFixed(1);
    const recIntervals = recover.intervals.map((i) => ({ ok: i.ok, r429: i.r429, r503: i.r503, errors: i.errors }));
    const firstOk = recover.intervals.findIndex((i) => i.ok > 0);
    // Recovered: in the second half of the low-load phase nothing was refused and calls were
    // accepted (a request still in flight at an interval's end is neither).
    const tail = recover.intervals.slice(Math.floor(recover.intervals.length / 2)).filter((i) => i.requests > 0);
    const recovered = tail.length > 0 && tail.every((i) => i.r429 + i.r503 + i.errors === 0) && tail.some((i) => i.ok > 0);
    const allowedBytes = (o.memorySoftLimitMiB * (1 + o.memoryTolerance) + o.maxInflightMiB) * 1048576 + peakYoungGeneration;

    const result: OverloadResult = {
      options: { ...o, log: undefined },
      baselineRssMiB: mib(baselineRss),
      peakRssMiB: mib(peak),
      endRssMiB: mib(sc.rssBytes()),
      peakHeapExternalMiB: mib(peakHeapExternal),
      youngGenerationMiB: mib(peakYoungGeneration),
      memorySamples,
      offeredSpansPerSec: Math.round(offered),
      acceptedSpansPerSec: Math.round(accepted),
      shed429,
      shed503,
      shedWithoutRetryAfter: noRetry,
      retryAfterValues: [...new Set(totals.flatMap((t) => t.retryAfter))],
      clientErrors: sum('errors') + sum('otherStatus'),
      healthz: { probes: probes.length, failures, maxMs: +(sorted[sorted.length - 1] ?? 0).toFixed(1), p99Ms: +(sorted[Math.floor(0.99 * (sorted.length - 1))] ?? 0).toFixed(1) },
      recovery: { intervals: recIntervals, firstAcceptedAfterS: firstOk >= 0 ? firstOk + 1 : undefined },
      checks: [],
      sidecarLog: sc.log().slice(-4000),
    };
    result.checks = [
      { name: 'shed', pass: shed429 + shed503 > 0 && noRetry === 0, detail: `${shed429} x 429, ${shed503} x 503, ${noRetry} without Retry-After (values ${result.retryAfterValues.join(',') || '-'})` },
      { name: 'overloaded', pass: offered >= 2 * accepted, detail: `offered ${Math.round(offered)} spans/s, accepted ${Math.round(accepted)} spans/s (x${(offered / Math.max(1, accepted)).toFixed(1)}), ${result.clientErrors} client errors/timeouts` },
      {
        name: 'memory',
        pass: memorySamples > 0 && peakHeapExternal <= allowedBytes && peak - baselineRss <= allowedBytes,
        detail:
          `peak heap + external ${result.peakHeapExternalMiB} MiB over ${memorySamples} samples, allowed ${mib(allowedBytes)} MiB ` +
          `(soft limit ${o.memorySoftLimitMiB} + ${o.maxInflightMiB} in flight + young generation ${result.youngGenerationMiB}, +${o.memoryTolerance * 100}% of the limit); ` +
          `RSS grew ${mib(peak - baselineRss)} MiB (idle ${result.baselineRssMiB}, peak ${result.peakRssMiB}, end ${result.endRssMiB})`,
      },
      { name: 'api', pass: failures === 0, detail: `${probes.length} /healthz probes, ${failures} failed or slower than ${o.apiMaxMs} ms, max ${result.healthz.maxMs} ms, p99 ${result.healthz.p99Ms} ms` },
      { name: 'recovered', pass: recovered, detail: `low-load intervals (ok/429/503/errors): ${recIntervals.map((i) => `${i.ok}/${i.r429}/${i.r503}/${i.errors}`).join(' ')}` },
    ];
    return result;
  } finally {
    for (const l of loads) l.kill();
    await sc.stop();
  }
}

/** V8 heap used + external memory, and the young generation's size, from prom-client's default metrics (prefix faultline_). */
function memoryFromMetrics(metricsText: string): { heapExternal: number; youngGeneration: number } | undefined {
  const read = (name: string, labels = '') => {
    const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} ([0-9.e+]+)$`, 'm').exec(metricsText);
    return m ? Number(m[1]) : undefined;
  };
  const heap = read('faultline_nodejs_heap_size_used_bytes');
  const external = read('faultline_nodejs_external_memory_bytes');
  const young = read('faultline_nodejs_heap_space_size_total_bytes', '{space="new"}') ?? 0;
  return heap === undefined || external === undefined ? undefined : { heapExternal: heap + external, youngGeneration: young };
}
