// `npm run bench`: every benchmark in one go, one table, and bench/results/latest.json.
//   1. ingest capacity: bench/ingest.ts (receiver + store in one process, load from another)
//   2. the whole sidecar (`faultline serve`, default config) at fixed rates: CPU and RSS
//   3. analysis time: bench/analyze.ts on 100k and 1M spans
//   4. replay accuracy: `faultline bench` on fixtures/ and on imported Nezha incidents
//
//   npm run bench [-- --rates 1000,10000,50000 --rate-seconds 30 --ingest-seconds 10
//                    --analyze 100000,1000000 --nezha DIR|none --out bench/results/latest.json]
// Nezha: DIR of imported incident folders; default ../nezha-incidents when present, else an
// import of ../shared/datasets/nezha-trainticket into a temp dir (skipped if absent).

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { spawnLoad, spawnSidecar, timedGet } from './lib/processes';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const CLI = path.join(ROOT, 'bin', 'faultline.cjs');

function arg(argv: string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
}

function lastJsonObject(text: string): unknown {
  // The scripts print a JSON object last (possibly pretty-printed over several lines).
  const start = text.lastIndexOf('\n{');
  return JSON.parse(text.slice(start >= 0 ? start + 1 : text.indexOf('{')));
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

async function ingestCapacity(seconds: number): Promise<Record<string, unknown>> {
  log(`ingest capacity (bench/ingest.ts, ${seconds} s)`);
  const { stdout } = await run(process.execPath, [TSX, path.join(ROOT, 'bench', 'ingest.ts'), '--seconds', String(seconds)], { cwd: ROOT, maxBuffer: 16 << 20 });
  return lastJsonObject(stdout) as Record<string, unknown>;
}

interface RateResult {
  rate: number;
  seconds: number;
  acceptedSpansPerSec: number;
  shed: number;
  errors: number;
  cpuPct: number;
  rssEndMiB: number;
  rssPeakMiB: number;
  ingestP50Ms: number;
  ingestP99Ms: number;
  healthzMaxMs: number;
}

/** One fresh `faultline serve` per rate; CPU over the run, RSS sampled every 250 ms. */
async function atFixedRate(rate: number, seconds: number): Promise<RateResult> {
  log(`faultline serve at ${rate} spans/s for ${seconds} s`);
  const sc = await spawnSidecar({ args: [] });
  try {
    const cpu0 = sc.cpuSeconds();
    const t0 = Date.now();
    let peak = 0;
    let healthzMax = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, sc.rssBytes())), 250);
    const prober = setInterval(async () => (healthzMax = Math.max(healthzMax, (await timedGet(`${sc.api}/healthz`)).ms)), 2000);
    const load = spawnLoad({ url: sc.otlpHttp, rate, seconds, spansPerRequest: 100, concurrency: 64, intervalMs: 1000 });
    const total = await load.done;
    clearInterval(sampler);
    clearInterval(prober);
    const cpu = sc.cpuSeconds() - cpu0;
    const wall = (Date.now() - t0) / 1000;
    return {
      rate,
      seconds,
      acceptedSpansPerSec: Math.round(total.okSpans / seconds),
      shed: total.r429 + total.r503,
      errors: total.errors + total.otherStatus,
      cpuPct: +((100 * cpu) / wall).toFixed(1),
      rssEndMiB: +(sc.rssBytes() / 1048576).toFixed(0),
      rssPeakMiB: +(peak / 1048576).toFixed(0),
      ingestP50Ms: total.p50Ms,
      ingestP99Ms: total.p99Ms,
      healthzMaxMs: +healthzMax.toFixed(1),
    };
  } finally {
    await sc.stop();
  }
}

async function analysisTime(spans: number): Promise<Record<string, unknown>> {
  log(`analysis (bench/analyze.ts ${spans})`);
  const { stdout } = await run(process.execPath, ['--max-old-space-size=8192', TSX, path.join(ROOT, 'bench', 'analyze.ts'), String(spans)], { cwd: ROOT, maxBuffer: 16 << 20 });
  // Lines like "diagnose, no baseline: wall 1234 ms, cpu 1200 ms"; the second run is warm.
  const runs = [...stdout.matchAll(/^diagnose, no baseline: wall (\d+) ms, cpu (\d+) ms/gm)].map((m) => ({ wallMs: Number(m[1]), cpuMs: Number(m[2]) }));
  const withBaseline = /^diagnose, (\d+)-span baseline: wall (\d+) ms, cpu (\d+) ms/m.exec(stdout);
  const top = /-> top (\S+)/.exec(stdout)?.[1];
  return {
    spans,
    coldWallMs: runs[0]?.wallMs,
    warmWallMs: runs[1]?.wallMs,
    warmCpuMs: runs[1]?.cpuMs,
    withBaselineWallMs: withBaseline ? Number(withBaseline[2]) : undefined,
    baselineSpans: withBaseline ? Number(withBaseline[1]) : undefined,
    topCause: top,
    raw: stdout.trim().split('\n'),
  };
}

async function replayAccuracy(dir: string): Promise<Record<string, unknown>> {
  log(`replay accuracy (faultline bench ${dir})`);
  const { stdout } = await run(process.execPath, [CLI, 'bench', dir, '--json'], { cwd: ROOT, maxBuffer: 64 << 20 });
  const r = JSON.parse(stdout) as { incidents: number; scored: number; errors: number; overall: { n: number; ac: number[]; avg5: number; meanMs: number; medianMs: number }; byKind: unknown };
  return { dir, incidents: r.incidents, scored: r.scored, errors: r.errors, ac1: r.overall.ac[0], ac3: r.overall.ac[2], avg5: r.overall.avg5, meanMs: r.overall.meanMs, medianMs: r.overall.medianMs, byKind: r.byKind };
}

async function nezhaDir(choice: string): Promise<string | undefined> {
  if (choice === 'none') return undefined;
  if (choice) return choice;
  const imported = path.resolve(ROOT, '..', 'nezha-incidents');
  if (fs.existsSync(imported) && fs.readdirSync(imported).length > 0) return imported;
  const dataset = path.resolve(ROOT, '..', 'shared', 'datasets', 'nezha-trainticket');
  if (!fs.existsSync(dataset)) return undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-nezha-'));
  log(`importing ${dataset} into ${tmp}`);
  await run(process.execPath, [CLI, 'import', 'nezha', dataset, tmp], { cwd: ROOT, maxBuffer: 16 << 20 });
  return tmp;
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    nproc: cpus.length,
    cpuModel: cpus[0]?.model,
    memTotalGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    memAvailableGiB: +(os.freemem() / 2 ** 30).toFixed(1),
    node: process.version,
    kernel: os.release(),
    loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    note: 'shared machine: other engineers were building and testing on the same 2 vCPUs while this ran',
  };
}

function table(rows: Array<[string, string, string]>): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`).join('\n');
}

async function main(argv: string[]): Promise<void> {
  const rates = arg(argv, 'rates', '1000,10000,50000').split(',').map(Number);
  const rateSeconds = Number(arg(argv, 'rate-seconds', '30'));
  const ingestSeconds = Number(arg(argv, 'ingest-seconds', '10'));
  const analyzeSizes = arg(argv, 'analyze', '100000,1000000').split(',').filter(Boolean).map(Number);
  const out = path.resolve(arg(argv, 'out', path.join(__dirname, 'results', 'latest.json')));
  const started = Date.now();
  const m = machine();

  const result: Record<string, unknown> = { at: new Date().toISOString(), machine: m };
  const rows: Array<[string, string, string]> = [['benchmark', 'figure', 'how']];
  const errors: string[] = [];
  const attempt = async <T>(name: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
      log(`${name} failed: ${(e as Error).message}`);
      return undefined;
    }
  };

  const ingest = await attempt('ingest', () => ingestCapacity(ingestSeconds));
  result.ingest = ingest;
  if (ingest) {
    rows.push(['ingest capacity (receiver + store)', `${ingest.spansPerSecond} spans/s`, `${ingest.body}, ${ingest.connections} connections, ${ingest.seconds} s`]);
    rows.push(['ingest per core', `${ingest.spansPerReceiverCpuSecond} spans/CPU-s`, `receiver used ${ingest.receiverCpuSecondsPerSecond} cores; peak RSS ${ingest.receiverPeakRssMiB} MiB`]);
  }

  const fixed: RateResult[] = [];
  for (const rate of rates) {
    const r = await attempt(`serve at ${rate}`, () => atFixedRate(rate, rateSeconds));
    if (!r) continue;
    fixed.push(r);
    rows.push([
      `faultline serve at ${rate} spans/s`,
      `${r.cpuPct}% CPU, ${r.rssPeakMiB} MiB`,
      `accepted ${r.acceptedSpansPerSec}/s, shed ${r.shed}, ingest p50/p99 ${r.ingestP50Ms}/${r.ingestP99Ms} ms, /healthz max ${r.healthzMaxMs} ms, RSS end ${r.rssEndMiB} MiB (${r.seconds} s, default config)`,
    ]);
  }
  result.fixedRates = fixed;

  const analysis: Array<Record<string, unknown>> = [];
  for (const n of analyzeSizes) {
    const a = await attempt(`analyze ${n}`, () => analysisTime(n));
    if (!a) continue;
    analysis.push(a);
    rows.push([`diagnose() on ${n} spans`, `${a.warmWallMs} ms`, `warm wall (cpu ${a.warmCpuMs} ms, cold ${a.coldWallMs} ms; with ${a.baselineSpans}-span baseline ${a.withBaselineWallMs} ms)`]);
  }
  result.analysis = analysis.map(({ raw, ...rest }) => rest);

  const replay: Array<Record<string, unknown>> = [];
  const fixturesRun = await attempt('replay fixtures', () => replayAccuracy(path.join(ROOT, 'fixtures')));
  if (fixturesRun) replay.push(fixturesRun);
  const nezha = await attempt('nezha import', () => nezhaDir(arg(argv, 'nezha', '')));
  if (nezha) {
    const n = await attempt('replay nezha', () => replayAccuracy(nezha));
    if (n) replay.push(n);
  }
  for (const r of replay) {
    rows.push([`replay accuracy ${path.relative(ROOT, String(r.dir)) || r.dir}`, `AC@1 ${Number(r.ac1).toFixed(2)}`, `AC@3 ${Number(r.ac3).toFixed(2)}, Avg@5 ${Number(r.avg5).toFixed(2)}, ${r.scored}/${r.incidents} scored, median ${r.medianMs} ms per incident`]);
  }
  result.replay = replay;
  result.errors = errors;
  result.durationSeconds = Math.round((Date.now() - started) / 1000);

  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`\nfaultline benchmarks, ${result.at}: ${m.nproc} vCPU (${m.cpuModel}), ${m.memTotalGiB} GiB, Node ${m.node}, load average at start ${(m.loadavgAtStart as number[]).join(' ')} (shared machine)\n\n`);
  process.stdout.write(table(rows) + '\n');
  if (errors.length) process.stdout.write(`\nnot measured: ${errors.join('; ')}\n`);
  process.stdout.write(`\nwritten ${out} (${result.durationSeconds} s)\n`);
  if (errors.length) process.exitCode = 1;
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack}\n`);
  process.exitCode = 2;
});
