// Soak: a real `faultline serve` (default config, own data dir, ephemeral ports) fed a steady
// span rate from a separate load-generator process for a long time. Every sample interval it
// records the sidecar's RSS, V8 heap, store size, CPU, ingest latency (from the generator),
// /healthz and /api/v1/diagnoses latency, and what was shed; prints a table and writes JSON.
// At the end it compares the last third of the run with the middle third: memory must be
// flat and latency must not grow.
//
//   npm run soak -- --minutes 30            (defaults: --rate 10000 --sample-seconds 10)
//   options: --rate N  --spans-per-request 100  --sample-seconds 10  --out bench/results/soak.json
//            --config faultline.yaml (passed to serve)  --env KEY=VALUE (repeatable)

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnLoad, spawnSidecar, timedGet } from './lib/processes';

interface Sample {
  t: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** V8 heap reserved (used + free pages V8 keeps). */
  heapTotalMiB: number;
  /** Memory held by buffers outside the V8 heap (Buffers, ArrayBuffers). */
  externalMiB: number;
  /** RSS − V8 heap total − external: code, native allocations (malloc arenas, SQLite, gRPC). Where a creep with a flat heap must be. */
  nativeMiB: number;
  storeSpans: number;
  storeMiB: number;
  cpuPct: number;
  offeredSpansPerSec: number;
  acceptedSpansPerSec: number;
  shed: number;
  errors: number;
  ingestP50Ms: number;
  ingestP99Ms: number;
  healthzMs: number;
  diagnosesMs: number;
}

function arg(argv: string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
}

function metricValue(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels.replace(/[{}]/g, (c) => `\\${c}`)}\\s+([0-9.eE+-]+)`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

const COLUMNS: Array<[keyof Sample, string, number]> = [
  ['t', 't(s)', 6],
  ['rssMiB', 'RSS MiB', 8],
  ['heapUsedMiB', 'heap MiB', 9],
  ['heapTotalMiB', 'heap tot', 9],
  ['externalMiB', 'extern', 7],
  ['nativeMiB', 'native', 7],
  ['storeSpans', 'store spans', 12],
  ['storeMiB', 'store MiB', 10],
  ['cpuPct', 'CPU %', 6],
  ['offeredSpansPerSec', 'offered/s', 10],
  ['acceptedSpansPerSec', 'accepted/s', 11],
  ['shed', 'shed', 6],
  ['errors', 'errors', 7],
  ['ingestP50Ms', 'p50 ms', 8],
  ['ingestP99Ms', 'p99 ms', 8],
  ['healthzMs', 'healthz ms', 11],
  ['diagnosesMs', 'diag. ms', 9],
];

function row(s: Sample | null): string {
  return COLUMNS.map(([k, title, w]) => (s ? String(typeof s[k] === 'number' && !Number.isInteger(s[k]) ? (s[k] as number).toFixed(1) : s[k]) : title).padStart(w)).join(' ');
}

export async function soak(argv: string[]): Promise<number> {
  const minutes = Number(arg(argv, 'minutes', '30'));
  const rate = Number(arg(argv, 'rate', '10000'));
  const spansPerRequest = Number(arg(argv, 'spans-per-request', '100'));
  const sampleSeconds = Number(arg(argv, 'sample-seconds', '10'));
  const out = path.resolve(arg(argv, 'out', path.join(__dirname, 'results', 'soak.json')));
  const configFile = argv.includes('--config') ? arg(argv, 'config', '') : undefined;
  const env: Record<string, string> = {};
  argv.forEach((a, i) => {
    if (a === '--env' && argv[i + 1]?.includes('=')) {
      const [k, ...v] = argv[i + 1].split('=');
      env[k] = v.join('=');
    }
  });

  const sidecar = await spawnSidecar({ env, args: configFile ? ['--config', configFile] : [] });
  process.stderr.write(`soak: faultline serve pid ${sidecar.pid} api ${sidecar.api}; ${rate} spans/s for ${minutes} min, sample every ${sampleSeconds} s\n`);
  const load = spawnLoad({ url: sidecar.otlpHttp, rate, seconds: minutes * 60, spansPerRequest, concurrency: 64, intervalMs: sampleSeconds * 1000 });
  const samples: Sample[] = [];
  const started = Date.now();
  let lastCpu = sidecar.cpuSeconds();
  let lastAt = Date.now();
  let seenIntervals = 0;
  let anomalies = -1;
  process.stdout.write(row(null) + '\n');
  try {
    while (Date.now() - started < minutes * 60_000) {
      await new Promise((r) => setTimeout(r, 1000));
      if (load.intervals.length === seenIntervals) continue;
      seenIntervals = load.intervals.length;
      const li = load.intervals[load.intervals.length - 1];
      const health = await timedGet(`${sidecar.api}/healthz`);
      const diag = await timedGet(`${sidecar.api}/api/v1/diagnoses?limit=10`);
      const metrics = (await timedGet(`${sidecar.api}/metrics`, 10_000)).text;
      const now = Date.now();
      const cpu = sidecar.cpuSeconds();
      const rssMiB = sidecar.rssBytes() / 1048576;
      const heapTotalMiB = metricValue(metrics, 'faultline_nodejs_heap_size_total_bytes') / 1048576;
      const externalMiB = metricValue(metrics, 'faultline_nodejs_external_memory_bytes') / 1048576;
      const s: Sample = {
        t: Math.round((now - started) / 1000),
        rssMiB,
        heapUsedMiB: metricValue(metrics, 'faultline_nodejs_heap_size_used_bytes') / 1048576,
        heapTotalMiB,
        externalMiB,
        nativeMiB: rssMiB - heapTotalMiB - externalMiB,
        storeSpans: metricValue(metrics, 'faultline_store_items', '{signal="spans"}'),
        storeMiB: metricValue(metrics, 'faultline_store_estimated_bytes') / 1048576,
        cpuPct: (100 * (cpu - lastCpu)) / ((now - lastAt) / 1000),
        offeredSpansPerSec: Math.round(li.sentSpans / sampleSeconds),
        acceptedSpansPerSec: Math.round(li.okSpans / sampleSeconds),
        shed: li.r429 + li.r503,
        errors: li.errors + li.otherStatus,
        ingestP50Ms: li.p50Ms,
        ingestP99Ms: li.p99Ms,
        healthzMs: health.status === 200 ? health.ms : -1,
        diagnosesMs: diag.status === 200 ? diag.ms : -1,
      };
      lastCpu = cpu;
      lastAt = now;
      samples.push(s);
      process.stdout.write(row(s) + '\n');
      if (sidecar.rssBytes() === 0) throw new Error(`faultline serve died:\n${sidecar.log().slice(-2000)}`);
    }
    await load.done.catch(() => undefined);
    // A steady synthetic load has no incident in it: anything the watcher diagnosed is a false alarm.
    const an = await timedGet(`${sidecar.api}/api/v1/anomalies?limit=100`);
    try {
      anomalies = an.status === 200 ? (JSON.parse(an.text).items ?? []).length : -1;
    } catch {
      anomalies = -1;
    }
  } finally {
    load.kill();
    await sidecar.stop();
  }

  // Flatness: the middle third (after warm-up, store filling) against the last third.
  const third = Math.max(1, Math.floor(samples.length / 3));
  const mid = samples.slice(third, 2 * third);
  const last = samples.slice(-third);
  const cmp = (k: keyof Sample) => ({ middle: +median(mid.map((s) => s[k] as number)).toFixed(2), last: +median(last.map((s) => s[k] as number)).toFixed(2) });
  const verdict = {
    rssMiB: cmp('rssMiB'),
    heapUsedMiB: cmp('heapUsedMiB'),
    heapTotalMiB: cmp('heapTotalMiB'),
    externalMiB: cmp('externalMiB'),
    nativeMiB: cmp('nativeMiB'),
    ingestP99Ms: cmp('ingestP99Ms'),
    healthzMs: cmp('healthzMs'),
    maxRssMiB: +Math.max(...samples.map((s) => s.rssMiB)).toFixed(1),
    maxHealthzMs: +Math.max(...samples.map((s) => s.healthzMs)).toFixed(1),
    healthzFailures: samples.filter((s) => s.healthzMs < 0).length,
    totalShed: samples.reduce((a, s) => a + s.shed, 0),
    totalErrors: samples.reduce((a, s) => a + s.errors, 0),
    watcherAnomalies: anomalies,
  };
  const memoryFlat = verdict.rssMiB.last <= verdict.rssMiB.middle * 1.1 + 10;
  const latencyFlat = verdict.ingestP99Ms.last <= verdict.ingestP99Ms.middle * 1.5 + 5;
  // Fast refusals would make latency look fine: the rate must also have been accepted.
  const offered = samples.reduce((a, s) => a + s.offeredSpansPerSec, 0);
  const accepted = samples.reduce((a, s) => a + s.acceptedSpansPerSec, 0);
  const acceptedFraction = offered > 0 ? +(accepted / offered).toFixed(4) : 0;
  const keptUp = acceptedFraction >= 0.99;
  const result = {
    kind: 'soak',
    at: new Date().toISOString(),
    machine: { nproc: os.cpus().length, memTotalGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, loadavg: os.loadavg() },
    params: { minutes, rate, spansPerRequest, sampleSeconds, env, config: configFile },
    verdict: { ...verdict, acceptedFraction, keptUp, memoryFlat, latencyFlat },
    samples,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`\nmiddle vs last third (medians): RSS ${verdict.rssMiB.middle} -> ${verdict.rssMiB.last} MiB, heap ${verdict.heapUsedMiB.middle} -> ${verdict.heapUsedMiB.last} MiB (total ${verdict.heapTotalMiB.middle} -> ${verdict.heapTotalMiB.last}), external ${verdict.externalMiB.middle} -> ${verdict.externalMiB.last} MiB, native ${verdict.nativeMiB.middle} -> ${verdict.nativeMiB.last} MiB, ingest p99 ${verdict.ingestP99Ms.middle} -> ${verdict.ingestP99Ms.last} ms, healthz ${verdict.healthzMs.middle} -> ${verdict.healthzMs.last} ms\n`);
  process.stdout.write(`max RSS ${verdict.maxRssMiB} MiB, max healthz ${verdict.maxHealthzMs} ms (${verdict.healthzFailures} failed), shed ${verdict.totalShed}, errors ${verdict.totalErrors}, watcher anomalies ${verdict.watcherAnomalies}\n`);
  process.stdout.write(`accepted ${(acceptedFraction * 100).toFixed(1)}% of the offered spans: ${keptUp ? 'kept up' : 'DID NOT keep up'}; memory flat: ${memoryFlat ? 'yes' : 'NO'}; latency flat: ${latencyFlat ? 'yes' : 'NO'}; written ${out}\n`);
  return keptUp && memoryFlat && latencyFlat ? 0 : 1;
}

if (require.main === module) {
  soak(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`soak: ${(e as Error).stack}\n`);
      process.exitCode = 2;
    },
  );
}
