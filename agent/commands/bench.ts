// `faultline bench <dir-of-incidents> [--json]`: replay every incident under a folder and
// report AC@1, AC@3, Avg@5 overall and per fault kind, and the time per incident.

import path from 'node:path';
import type { Command } from 'commander';
import type { BenchReport } from '../incident/bench';
import { progressLine } from '../incident/progress';
import type { Scores } from '../incident/score';
import { CliError } from '../cli';

export function register(program: Command): void {
  program
    .command('bench')
    .description('Replay every incident folder under a directory and score the rankings (AC@1, AC@3, Avg@5, kind@1, instance@1)')
    .argument('<dir>', 'folder holding incident folders')
    .option('--json', 'machine-readable report on stdout')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const progress = progressLine();
      // Loaded when the command runs: the analyzers are not needed to start the CLI for other commands.
      const { runBench } = require('../incident/bench') as typeof import('../incident/bench');
      let report: BenchReport;
      try {
        report = await runBench(dir, {
          onStart: (d, done, total) => progress.update(`bench: ${done}/${total} replaying ${path.relative(dir, d) || d}`),
          onResult: (r) => {
            if (r.error !== undefined) progress.log(`faultline: ${r.incident}: ${r.error}`);
          },
        });
      } catch (e) {
        progress.done();
        throw new CliError((e as Error).message);
      }
      progress.done();
      if (report.incidents === 0) throw new CliError(`${dir}: no incident folders found (a folder with incident.json or traces.jsonl)`);
      process.stdout.write(opts.json ? JSON.stringify(report) + '\n' : formatBench(report));
      if (report.errors > 0) process.exitCode = 1;
    });
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toString() : '-');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n') + '\n';
}

export function formatBench(r: BenchReport): string {
  const out: string[] = [];
  const perIncident: string[][] = [['incident', 'kind', 'truth', 'rank', 'top-1', 'its kind', 'ms']];
  for (const c of r.cases) {
    perIncident.push([
      c.id ?? path.basename(c.incident),
      c.kind ?? '-',
      c.truthService ?? '-',
      c.error ? 'error' : c.rank !== undefined ? String(c.rank) : c.truthService ? 'miss' : '-',
      c.top ?? '-',
      c.topKind ?? '-',
      String(c.ms),
    ]);
  }
  out.push(table(perIncident));
  const row = (name: string, s: Scores) => [name, String(s.n), f2(s.ac[0]), f2(s.ac[2]), f2(s.avg5), f2(s.kindAt1), f2(s.instanceAt1), f0(s.meanMs), f0(s.medianMs)];
  // kind@1 / instance@1: the true service first AND named with the true kind / instance
  // (instance@1 over the incidents whose truth names an instance).
  const summary: string[][] = [['kind', 'n', 'AC@1', 'AC@3', 'Avg@5', 'kind@1', 'instance@1', 'mean ms', 'median ms'], row('all', r.overall)];
  for (const [kind, s] of Object.entries(r.byKind)) summary.push(row(kind, s));
  out.push(`${r.root}: ${r.incidents} incident(s), ${r.scored} with ground truth, ${r.errors} failed to replay\n`);
  out.push(table(summary));
  return out.join('\n');
}
