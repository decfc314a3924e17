// The tuner on the demo system: `npm run bench:tune`.
// Starts two `faultline serve` processes, each with a tuner section (A tunes the model server's
// batchSize/batchTimeoutMs, B the feature store's cacheSize/cacheTtlMs; A forwards all OTLP to B,
// so both see the same telemetry), then the demo system exporting to A. For each load level:
// defaults on every instance, p99 measured `--repeats` times, the tuners run in auto mode for
// `--iterations` windows (the first change of each regime is approved through the API by this
// script, as an operator would: recorded as actor "bench-operator"), each tuner's best config
// for the regime applied through the guarded API, p99 measured again. Last, at the high load, a
// fault is injected on the model server's canary during a trial: the tuner must roll it
// back by itself (a CPU fault on the canary's process). Prints medians and spread (min–max) per load; the machine may be shared, so
// read the spread before the medians.
//
//   npm run bench:tune -- --loads 8,30 --iterations 10 --window-ms 10000 --repeats 3
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFaultline, type RunningFaultline } from './faultline';
import { requestJson } from './lib/http-json';
import { modelRowsPerRequest, serviceP99s, setServiceKnobs } from './lib/tuning';
import { LoadGenerator } from './loadgen';
import { startDemo, type DemoSystem } from './system';

const { values: args } = parseArgs({
  options: {
    loads: { type: 'string', default: '10,40' },
    iterations: { type: 'string', default: '24' },
    'window-ms': { type: 'string', default: '15000' },
    'min-requests': { type: 'string', default: '100' },
    repeats: { type: 'string', default: '3' },
    'measure-sec': { type: 'string', default: '20' },
    // The service models (demo/services/model-server.ts, feature-store.ts): on a shared 2-core
    // machine a model that burns CPU makes p99 a function of the neighbours, so the benchmark
    // runs the model on its simulated accelerator (the batch is waited for, as on a GPU).
    device: { type: 'string', default: 'accelerator' },
    'model-cost': { type: 'string', default: '6,0.06' },
    'store-cost': { type: 'string', default: '3,0.25,1' },
    // Start each tuned service from this config instead of its own defaults (e.g.
    // 'model-server:batchSize=2' for a model server sized for a lower load); it is then the
    // "default" of the tuner's knobs and of the before/after comparison.
    start: { type: 'string', multiple: true, default: [] },
    // How long the cache tuner waits after a change before it measures (tuner/settle.ts): a
    // fixed wait for a new cache size, the longer of the old and new TTL (capped) for a TTL.
    // 0 and 0: measure after evaluation.settleMs only (the benchmark before session 8).
    'cache-size-settle-ms': { type: 'string', default: '20000' },
    'cache-ttl-settle-max-ms': { type: 'string', default: '120000' },
    json: { type: 'boolean', default: false },
  },
});
const LOADS = String(args.loads).split(',').map(Number);
const ITER = Number(args.iterations);
const WINDOW = Number(args['window-ms']);
const REPEATS = Number(args.repeats);
const MIN_REQ = Number(args['min-requests']);
const MEASURE_S = Number(args['measure-sec']);
const SIZE_SETTLE_MS = Number(args['cache-size-settle-ms']);
const TTL_SETTLE_MAX_MS = Number(args['cache-ttl-settle-max-ms']);

interface Tuned {
  name: string;
  service: string;
  knobs: string[];
  defaults: Record<string, number>;
  fl?: RunningFaultline;
}

const TUNED: Tuned[] = [
  // defaults: the services' own, read from GET /admin/knobs at start
  { name: 'model', service: 'model-server', knobs: ['batchSize', 'batchTimeoutMs'], defaults: {} },
  { name: 'cache', service: 'feature-store', knobs: ['cacheSize', 'cacheTtlMs'], defaults: {} },
];

function tunerYaml(t: Tuned, urls: string[], rowsPerRequest: number): string {
  const knobs =
    t.service === 'model-server'
      ? [
          `    - {name: batchSize, type: int, min: 1, max: 64, log: true, maxStep: 2, default: ${t.defaults.batchSize}}`,
          `    - {name: batchTimeoutMs, type: float, min: 0.2, max: 50, log: true, maxStep: 2.5, default: ${t.defaults.batchTimeoutMs}}`,
        ]
      : [
          // A resized cache fills at the rate of its misses; a TTL bites only once the entries
          // written under the old one expire (the demo's LRU fixes expiry at write): 20 k rows read
          // 14 ms a few seconds after a 300 s -> 11 s change, 27 ms once the old entries were gone.
          `    - {name: cacheSize, type: int, min: 1000, max: 400000, log: true, maxStep: 3, default: ${t.defaults.cacheSize}${SIZE_SETTLE_MS > 0 ? `, settleMs: ${SIZE_SETTLE_MS}` : ''}}`,
          `    - {name: cacheTtlMs, type: int, min: 1000, max: 3600000, log: true, maxStep: 4, default: ${t.defaults.cacheTtlMs}${TTL_SETTLE_MAX_MS > 0 ? `, ttlUnitMs: 1, maxSettleMs: ${TTL_SETTLE_MAX_MS}` : ''}}`,
        ];
  // Cost terms (ms-equivalent) so that "bigger cache, longer TTL" is not free: 10 k entries of
  // memory and 1000 s of staleness each count as 1 ms of p99. The model server's pre-check:
  // one batch at a time (concurrency 1), a ms per batch + b ms per row × the rows per request
  // (the ranker's chunkSize; demo/services/model-server.ts).
  const [perBatch, perRow] = String(args['model-cost']).split(',').map(Number);
  const extra =
    t.service === 'model-server'
      ? `, utilisationPrecheck: {max: 0.85, batchKnob: batchSize, perBatchMs: ${perBatch}, perItemMs: ${perRow * rowsPerRequest}, concurrency: 1}`
      : '';
  const cost = t.service === 'feature-store' ? 'costTerms: [{knob: cacheSize, weight: 0.0001}, {knob: cacheTtlMs, weight: 0.000001}], ' : '';
  return [
    'tuner:',
    `  service: ${t.service}`,
    '  mode: auto',
    '  knobs:',
    ...knobs,
    `  applier: {kind: http, targets: [${urls.map((u, i) => `{instance: ${t.service}-${i + 1}, url: "${u}"}`).join(', ')}]}`,
    `  objective: {metric: p99Ms, ${cost}constraints: [{metric: errorRate, max: 0.01}]}`,
    '  regimes: {bucketsPerDecade: 4, hysteresis: 0.25, minDwellMs: 0, mixBy: none}',
    `  evaluation: {windowMs: ${WINDOW}, minRequests: ${MIN_REQ}, settleMs: 1000}`,
    `  guardrails: {p99Tolerance: 0.2, errorRateDelta: 0.01, minIntervalMs: 0, approvedRanges: {${t.knobs.map((k) => `${k}: {}`).join(', ')}}${extra}}`,
    `  intervalMs: ${WINDOW}`,
    '',
  ].join('\n');
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`[tune-bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

async function api<T>(t: Tuned, method: 'GET' | 'POST', p: string, body?: unknown): Promise<T> {
  return (await requestJson(method, `${t.fl!.addresses.api}${p}`, body, 15 * WINDOW)) as T;
}

interface Measured {
  gateway: number[];
  'model-server': number[];
  'feature-store': number[];
}

/**
 * `--repeats` windows of `--measure-sec`: the end-to-end p99 at the gateway (the load
 * generator) and each tuned service's own server-side p99 (faultline's /api/v1/graph over the
 * same window, from the model tuner's store, which receives all spans).
 */
async function measure(load: LoadGenerator, fl: RunningFaultline): Promise<Measured> {
  const out: Measured = { gateway: [], 'model-server': [], 'feature-store': [] };
  for (let i = 0; i < REPEATS; i++) {
    await sleep(MEASURE_S * 1000);
    out.gateway.push(load.summary(MEASURE_S * 1000).p99Ms);
    // spans arrive with the exporters' batching delay: read the window that ended 3 s ago
    await sleep(3000);
    const p99 = await serviceP99s(fl.addresses.api, `lastMinutes=${MEASURE_S / 60}`, ['model-server', 'feature-store']);
    for (const svc of ['model-server', 'feature-store'] as const) out[svc].push(p99[svc]);
  }
  return out;
}

async function setMode(t: Tuned, mode: 'auto' | 'approve'): Promise<void> {
  await api(t, 'POST', '/api/v1/tuner/mode', { mode, actor: 'bench-operator' });
  // a trial already running finishes under its own guardrails (two stages, each a settle of up
  // to the TTL's cap plus a window that may be extended to 3×)
  const waitS = Math.ceil((2 * (Math.max(SIZE_SETTLE_MS, TTL_SETTLE_MAX_MS) + 3 * WINDOW)) / 1000) + 60;
  for (let i = 0; i < waitS; i++) {
    const r = await api<{ trialRunning: boolean }>(t, 'GET', '/api/v1/tuner/regime');
    if (!r.trialRunning) return;
    await sleep(1000);
  }
}

const knobValue = (v: unknown): number => (typeof v === 'object' && v !== null && 'value' in v ? Number((v as { value: unknown }).value) : Number(v));

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tune-bench-'));
  let demo: DemoSystem | undefined;
  const results: Array<Record<string, unknown>> = [];
  try {
    // The demo exports to A's OTLP port, known before A starts (the exporters retry until it
    // is up); A tunes the model server and forwards every batch to B, which tunes the cache.
    const otlpA = await freePort();
    demo = await startDemo({
      otlpEndpoint: `http://127.0.0.1:${otlpA}`,
      logDir: path.join(dir, 'logs'),
      env: { DEMO_MODEL_DEVICE: String(args.device), DEMO_MODEL_COST: String(args['model-cost']), DEMO_STORE_COST: String(args['store-cost']) },
    });
    const urlsOf = (svc: string) => demo!.instances.filter((i) => i.service === svc).map((i) => i.url);
    for (const t of TUNED) {
      const described = ((await requestJson('GET', `${urlsOf(t.service)[0]}/admin/knobs`)) as { knobs: Record<string, { default: number }> }).knobs;
      t.defaults = Object.fromEntries(t.knobs.map((n) => [n, described[n].default]));
      for (const spec of (args.start as string[]).filter((x) => x.startsWith(`${t.service}:`))) {
        for (const kv of spec.slice(t.service.length + 1).split(',')) {
          const [n, v] = kv.split('=');
          if (!t.knobs.includes(n) || !Number.isFinite(Number(v))) throw new Error(`--start ${spec}: '${kv}' is not <knob>=<number> for ${t.knobs.join(', ')}`);
          t.defaults[n] = Number(v);
        }
      }
    }
    const [modelT, cacheT] = TUNED;
    const rowsPerRequest = await modelRowsPerRequest(demo);
    cacheT.fl = await startFaultline({ dataDir: path.join(dir, 'b'), configYaml: tunerYaml(cacheT, urlsOf(cacheT.service), rowsPerRequest) });
    modelT.fl = await startFaultline({
      dataDir: path.join(dir, 'a'),
      configYaml: `otlp: {forward: {endpoint: "${cacheT.fl.addresses.otlpHttp}"}}\n` + tunerYaml(modelT, urlsOf(modelT.service), rowsPerRequest),
      extraArgs: ['--otlp-http-port', String(otlpA)],
    });
    log(`demo ${demo.gatewayUrl}; model tuner ${modelT.fl.addresses.api}; cache tuner ${cacheT.fl.addresses.api}; data ${dir}`);
    for (const rate of LOADS) {
      for (const t of TUNED) await setMode(t, 'approve');
      for (const t of TUNED) await setServiceKnobs(demo, t.service, t.defaults);
      const load = new LoadGenerator({ url: demo.gatewayUrl, rate, seed: rate, progress: 'none' });
      const done = load.start();
      await sleep(Math.max(10_000, WINDOW));
      log(`load ${rate} req/s: measuring the defaults`);
      const before = await measure(load, modelT.fl);
      for (const t of TUNED) await setMode(t, 'auto');
      log(`load ${rate} req/s: tuning for ${ITER} windows`);
      for (let i = 0; i < ITER; i++) {
        await sleep(WINDOW);
        for (const t of TUNED) {
          const { suggestions: open } = await api<{ suggestions: Array<{ id: string; reasons: string[] }> }>(t, 'GET', '/api/v1/tuner/suggestions?status=open');
          const first = open.find((s) => s.reasons.some((r) => r.startsWith('first change in regime')));
          if (first) {
            const out = await api<{ verdict: string }>(t, 'POST', `/api/v1/tuner/suggestions/${first.id}/approve`, { actor: 'bench-operator' }).catch((e: Error) => ({ verdict: e.message }));
            log(`  ${t.name}: first change of the regime approved by the script: ${out.verdict}`);
          }
        }
      }
      const tuned: Record<string, unknown> = {};
      for (const t of TUNED) await setMode(t, 'approve');
      for (const t of TUNED) {
        const regime = await api<{ regime?: string; trials: number; best?: { config: Record<string, number> } }>(t, 'GET', '/api/v1/tuner/regime');
        const { records: hist } = await api<{ records: Array<{ kind: string; verdict?: string }> }>(t, 'GET', `/api/v1/tuner/history?kind=trial`);
        let applied: string | undefined;
        const read = async () => {
          const k = ((await requestJson('GET', `${urlsOf(t.service)[0]}/admin/knobs`)) as { knobs: Record<string, unknown> }).knobs;
          return Object.fromEntries(t.knobs.map((n) => [n, knobValue(k[n])]));
        };
        // The regime's best (posterior mean) through the guarded path, when it is not in effect;
        // step limits may need a few changes to get there (at most 3 here).
        const differs = (c: Record<string, number>) => t.knobs.some((n) => Math.abs(Number(regime.best!.config[n]) - c[n]) > 1e-9 * Math.max(1, Math.abs(c[n])));
        for (let step = 0; step < 3 && regime.best && differs(await read()); step++) {
          const out = await api<{ verdict: string; reason: string }>(t, 'POST', '/api/v1/tuner/apply', { config: regime.best.config, actor: 'bench-operator', reason: 'best of the regime' }).catch((e: Error) => ({ verdict: 'error', reason: e.message }));
          applied = `${applied ? `${applied}, ` : ''}${out.verdict}${out.verdict === 'kept' ? '' : `: ${out.reason}`}`;
          if (out.verdict !== 'kept') break;
        }
        const trials = hist.filter((h) => (h as { regime?: string }).regime === regime.regime);
        tuned[t.name] = { regime: regime.regime, trials: regime.trials, best: regime.best?.config, applyBest: applied ?? 'already in effect', inEffect: await read(), kept: trials.filter((h) => h.verdict === 'kept').length, rolledBack: trials.filter((h) => h.verdict === 'rolled-back').length };
      }
      log(`load ${rate} req/s: measuring the tuned configs ${JSON.stringify(tuned)}`);
      const after = await measure(load, modelT.fl);
      const row = { rate, before, after, tuned };
      results.push(row);
      await load.stop();
      await done;
      if (rate === LOADS[LOADS.length - 1]) {
        // Injected regression: a delay fault on the model server's canary while a trial runs.
        const load2 = new LoadGenerator({ url: demo.gatewayUrl, rate, seed: 99, progress: 'none' });
        const done2 = load2.start();
        await sleep(WINDOW);
        const k = ((await requestJson('GET', `${urlsOf('model-server')[0]}/admin/knobs`)) as { knobs: Record<string, unknown> }).knobs;
        const cur = Object.fromEntries(modelT.knobs.map((n) => [n, knobValue(k[n])]));
        const trial = api<{ verdict: string; reason: string }>(modelT, 'POST', '/api/v1/tuner/apply', {
          config: { ...cur, batchTimeoutMs: Number(cur.batchTimeoutMs) * 1.2 },
          actor: 'bench-operator',
          reason: 'regression test: a fault is injected during this trial',
        });
        await sleep(1500);
        // CPU contention on the canary's process (the tuner measures server spans, which a
        // 'delay' fault would not touch: it holds requests before the span starts)
        await demo.injectFault('model-server', { kind: 'cpu', intensity: 0.9, durationSec: Math.ceil((3 * WINDOW) / 1000) });
        const out = await trial.catch((e: Error) => ({ verdict: 'error', reason: e.message }));
        await demo.clearFaults();
        const knobs = await Promise.all(urlsOf('model-server').map((u) => requestJson('GET', `${u}/admin/knobs`)));
        const after = knobs.map((x) => Object.fromEntries(modelT.knobs.map((n) => [n, knobValue((x as { knobs: Record<string, unknown> }).knobs[n])])));
        results.push({ regression: { requested: { ...cur, batchTimeoutMs: Number(cur.batchTimeoutMs) * 1.2 }, verdict: out.verdict, reason: out.reason, before: cur, inEffectAfter: after } });
        await load2.stop();
        await done2;
      }
    }
  } finally {
    for (const t of TUNED) await t.fl?.stop().catch(() => undefined);
    await demo?.stop().catch(() => undefined);
  }
  for (const r of results) {
    if (args.json) process.stdout.write(JSON.stringify(r) + '\n');
    else if ('rate' in r) {
      const fmt = (xs: number[]) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
      const b = r.before as Measured;
      const a = r.after as Measured;
      process.stdout.write(`load ${r.rate} req/s at the gateway — p99 ms, median (min–max) of ${REPEATS} windows of ${MEASURE_S} s, default → tuned:\n`);
      for (const k of ['gateway', 'model-server', 'feature-store'] as const) process.stdout.write(`  ${k.padEnd(14)} ${fmt(b[k])} → ${fmt(a[k])}\n`);
      process.stdout.write(`  tuners: ${JSON.stringify(r.tuned)}\n`);
    } else process.stdout.write(`injected regression: ${JSON.stringify(r.regression)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`tune-bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
