// Child processes the demo starts: each in its own process group (so a whole tree can be
// stopped), stdin piped (so children exit when the orchestrator dies), logs to a file.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';

export interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  stderrTail(): string;
}

export interface SpawnOptions {
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout (except the ready line) and stderr go; kept in memory (last lines) when absent. */
  logFile?: string;
}

const live = new Set<Child>();
let exitHook = false;

export function spawnChild(opts: SpawnOptions): Child {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => killAllChildrenNow()); // whatever happens to this process, no orphans
  }
  const proc = spawn(process.execPath, opts.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true, // own process group: kill(-pid) stops it and anything it started
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    log?.write(line + '\n');
  };
  readline.createInterface({ input: proc.stderr! }).on('line', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = { name: opts.name, proc, exited, stderrTail: () => tail.join('\n') };
  live.add(child);
  void exited.then(() => {
    live.delete(child);
    log?.end();
  });
  (child as Child & { keep: (l: string) => void }).keep = keep;
  return child;
}

/** Resolves with the JSON after `prefix` on the child's stdout; rejects if it exits or times out first. */
export function waitForLine<T>(child: Child, prefix: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.proc.stdout! });
    const keep = (child as Child & { keep?: (l: string) => void }).keep;
    const timer = setTimeout(() => reject(new Error(`${child.name} did not start within ${timeoutMs} ms\n${child.stderrTail()}`)), timeoutMs);
    rl.on('line', (line) => {
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line.slice(prefix.length)));
        } catch (err) {
          reject(err);
        }
      } else keep?.(line);
    });
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (code ${code}) before it was ready\n${child.stderrTail()}`));
    });
  });
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

function signalGroup(child: Child, sig: NodeJS.Signals): void {
  try {
    process.kill(-child.proc.pid!, sig);
  } catch {
    try {
      child.proc.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

/** Last resort (process exit, SIGINT): kill every child this process started, synchronously. */
export function killAllChildrenNow(): void {
  for (const c of live) signalGroup(c, 'SIGKILL');
}

let hooked = false;
/** Stops all children when this process is interrupted or exits. */
export function installExitHooks(onSignal?: () => Promise<void>): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAllChildrenNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void (onSignal ? onSignal() : Promise.resolve()).finally(() => {
        killAllChildrenNow();
        process.exit(130);
      });
    });
  }
}
