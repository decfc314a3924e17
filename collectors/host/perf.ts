// Kernel perf counters through `perf stat -x, -I <ms>`: there is no maintained Node binding
// for perf_event_open, so perf runs as a child and its interval CSV (on stderr) is parsed.
// On VMs without a PMU, hardware events (cycles, instructions) print `<not supported>`:
// that counter is absent, the software ones (task-clock, context-switches, ...) still work.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface PerfRow {
  /** Seconds since perf started (the -I interval end). */
  timeSec: number;
  event: string;
  /** The count in this interval; undefined when `<not supported>` or `<not counted>`. */
  value?: number;
  unit: string; // perf's unit column: 'msec' for task-clock, '' for plain counts
  status: 'counted' | 'not supported' | 'not counted';
}

/**
 * One line of `perf stat -x, -I ms` output:
 * `1.001160392,2002.63,msec,task-clock,2002629713,100.00,2.003,CPUs utilized`.
 * Returns undefined for lines that are not counter rows (comments, blank, warnings).
 */
export function parsePerfCsvLine(line: string): PerfRow | undefined {
  const t = line.trim();
  if (!t || t.startsWith('#')) return undefined;
  const f = t.split(',');
  if (f.length < 4) return undefined;
  const timeSec = Number(f[0]);
  if (!Number.isFinite(timeSec) || f[0] === '') return undefined;
  const event = f[3].trim();
  if (!event) return undefined;
  const unit = f[2].trim();
  const raw = f[1].trim();
  if (raw === '<not supported>') return { timeSec, event, unit, status: 'not supported' };
  if (raw === '<not counted>') return { timeSec, event, unit, status: 'not counted' };
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value)) return undefined;
  return { timeSec, event, unit, value, status: 'counted' };
}

export interface PerfRunnerOptions {
  command: string; // 'perf'
  events: string[];
  intervalMs: number;
  /** Count for one process instead of system-wide (-a needs perf_event_paranoid <= 0 or root). */
  pid?: number;
  /** Called with the rows of one interval once the next interval (or the end) starts. */
  onInterval(rows: PerfRow[]): void;
  /** Called once when perf cannot start or exits; message says why. */
  onExit(message: string, kind: 'missing' | 'exited'): void;
}

export function perfArgs(o: Pick<PerfRunnerOptions, 'events' | 'intervalMs' | 'pid'>): string[] {
  // perf's minimum interval is 10 ms (100 ms warns); keep it sane.
  const ms = Math.max(100, Math.round(o.intervalMs));
  return ['stat', '-x,', '-I', String(ms), '-e', o.events.join(','), ...(o.pid !== undefined ? ['-p', String(o.pid)] : ['-a'])];
}

/** Starts perf; returns a stop function. */
export function startPerf(o: PerfRunnerOptions): { child: ChildProcess; stop(): Promise<void> } {
  const child = spawn(o.command, perfArgs(o), { stdio: ['ignore', 'ignore', 'pipe'] });
  let batch: PerfRow[] = [];
  let batchTime = NaN;
  const stderrTail: string[] = [];
  let stopping = false;
  let exited = false;
  const flush = () => {
    if (batch.length > 0) o.onInterval(batch);
    batch = [];
  };
  const rl = createInterface({ input: child.stderr! });
  rl.on('line', (line) => {
    const row = parsePerfCsvLine(line);
    if (!row) {
      if (line.trim()) {
        stderrTail.push(line.trim());
        if (stderrTail.length > 5) stderrTail.shift();
      }
      return;
    }
    if (row.timeSec !== batchTime) flush();
    batchTime = row.timeSec;
    batch.push(row);
  });
  const exitedPromise = new Promise<void>((resolve) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      exited = true;
      if (e.code === 'ENOENT') o.onExit(`perf binary "${o.command}" not found: install linux-perf (Debian) / perf, or set host.perf.enabled=false`, 'missing');
      else o.onExit(`could not start "${o.command}": ${e.message}`, 'exited');
      resolve();
    });
    child.on('close', (code, signal) => {
      if (exited) return resolve();
      exited = true;
      flush();
      if (!stopping) o.onExit(`perf exited (${signal ?? `code ${code}`})${stderrTail.length ? ': ' + stderrTail.join(' | ') : ''}`, 'exited');
      resolve();
    });
  });
  return {
    child,
    async stop() {
      stopping = true;
      if (!exited) child.kill('SIGINT'); // perf prints its last interval on SIGINT
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 2000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}
