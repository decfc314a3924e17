// Runs the `faultline` CLI as a user would (a child process of bin/faultline.cjs) and
// collects its exit code and output; killed after 60 s so a hang fails the test.

import { spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'faultline.cjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** env is laid over process.env; names in `unset` are removed first. */
export function runFaultline(args: string[], opts: { env?: NodeJS.ProcessEnv; unset?: string[] } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    for (const k of opts.unset ?? []) delete env[k];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
