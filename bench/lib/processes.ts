// Child processes for the robustness tests and benchmarks: a real `faultline serve` on
// ephemeral loopback ports (its own data dir, its own memory limits) and the OTLP load
// generator (bench/load-otlp.ts) in a separate process. Resource use is read from /proc.

import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LoadInterval } from '../load-otlp';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'faultline.cjs');
// Run TypeScript children as `node -r tsx/cjs` (one process): the tsx CLI would put a second
// process in between, and killing it leaves the real one running.
const TSX_REQUIRE = ['-r', path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cjs', 'index.cjs')];
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface SidecarProcess {
  pid: number;
  api: string;
  otlpHttp: string;
  otlpGrpc: string;
  dataDir: string;
  /** stderr so far (faultline logs there). */
  log(): string;
  rssBytes(): number;
  /** user + system CPU seconds of the process so far. */
  cpuSeconds(): number;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, wait for exit (SIGKILL after a grace period). */
  stop(): Promise<void>;
}

export interface SidecarOptions {
  /** Reuse a data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** FAULTLINE_* and other env vars on top of the parent's. */
  env?: Record<string, string>;
  /** YAML config written to the data dir's parent and passed with --config. */
  configYaml?: string;
  args?: string[];
  readyTimeoutMs?: number;
}

/** `node -r tsx/cjs` arguments, for spawning TypeScript scripts as a single process. */
export const tsxNodeArgs = TSX_REQUIRE;

/** /proc/<pid>/status VmRSS in bytes (0 once the process is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** utime + stime of /proc/<pid>/stat in seconds. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

const children = new Set<ChildProcess>();
// A test that fails half-way must not leave a sidecar running.
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
});

export async function spawnSidecar(opts: SidecarOptions = {}): Promise<SidecarProcess> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-robust-'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-run-'));
  const readyFile = path.join(work, 'ready.json');
  const args = [CLI, 'serve', '--api-port', '0', '--otlp-http-port', '0', '--otlp-grpc-port', '0', '--data-dir', dataDir, '--ready-file', readyFile, '--no-host-metrics', ...(opts.args ?? [])];
  if (opts.configYaml) {
    const file = path.join(work, 'faultline.yaml');
    fs.writeFileSync(file, opts.configYaml);
    args.push('--config', file);
  }
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? -1 : null));
    }),
  );
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  let addresses: { api: string; otlpHttp: string; otlpGrpc: string } | undefined;
  while (!addresses) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`faultline serve exited before it was ready:\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`faultline serve not ready after ${opts.readyTimeoutMs ?? 60_000} ms:\n${stderr}`);
    }
    if (fs.existsSync(readyFile)) addresses = JSON.parse(fs.readFileSync(readyFile, 'utf8'));
    else await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  return {
    pid,
    api: addresses.api,
    otlpHttp: addresses.otlpHttp,
    otlpGrpc: addresses.otlpGrpc,
    dataDir,
    log: () => stderr,
    rssBytes: () => rssOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    exited,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

export interface LoadProcess {
  pid: number;
  intervals: LoadInterval[];
  /** Resolves with the totals line when the generator exits. */
  done: Promise<LoadInterval>;
  kill(): void;
}

/** Run bench/load-otlp.ts in its own process. */
export function spawnLoad(args: { url: string; rate: number; seconds: number; spansPerRequest?: number; concurrency?: number; intervalMs?: number; timeoutMs?: number; pool?: number }): LoadProcess {
  const argv = [...TSX_REQUIRE, path.join(ROOT, 'bench', 'load-otlp.ts'), '--url', args.url, '--rate', String(args.rate), '--seconds', String(args.seconds)];
  if (args.spansPerRequest) argv.push('--spans-per-request', String(args.spansPerRequest));
  if (args.concurrency) argv.push('--concurrency', String(args.concurrency));
  if (args.intervalMs) argv.push('--interval-ms', String(args.intervalMs));
  if (args.timeoutMs) argv.push('--timeout-ms', String(args.timeoutMs));
  if (args.pool) argv.push('--pool', String(args.pool));
  const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const intervals: LoadInterval[] = [];
  let buf = '';
  let err = '';
  let total: LoadInterval | undefined;
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const obj = JSON.parse(line);
      if (obj.done) total = obj;
      else intervals.push(obj);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const done = new Promise<LoadInterval>((resolve, reject) =>
    child.once('exit', (code) => {
      children.delete(child);
      if (total) resolve(total);
      else reject(new Error(`load generator exited ${code} without totals: ${err}`));
    }),
  );
  return { pid: child.pid!, intervals, done, kill: () => child.kill('SIGKILL') };
}

/** GET with a timeout; returns status, latency and body text (never throws: status 0 on error). */
export async function timedGet(url: string, timeoutMs = 5000): Promise<{ status: number; ms: number; text: string }> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - t0, text };
  } catch (e) {
    return { status: 0, ms: performance.now() - t0, text: (e as Error).message };
  }
}
