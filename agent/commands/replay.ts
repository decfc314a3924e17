// `faultline replay <incident-dir>... [--json]`: diagnose recorded incidents. With --json
// the output is exactly the replay contract (shared spec incident-format.md): one JSON line
// per incident, in the order given, nothing else on stdout.

import { InvalidArgumentError, type Command } from 'commander';
import type { ReplayResult } from '../incident/replay';

// Loaded when the command runs: the analyzers are not needed to start the CLI for other commands.
const replayModule = () => require('../incident/replay') as typeof import('../incident/replay');

export function register(program: Command): void {
  program
    .command('replay')
    .description('Diagnose recorded incident folders (incident.json + OTLP/JSON traces.jsonl/metrics.jsonl)')
    .argument('<incident-dir...>', 'incident folders')
    .option('--json', 'one JSON line per incident: {"incident","ranking":[{service,instance?,kind,score}],"ms"} or {"incident","error"}')
    .option('--top <n>', 'causes shown in the readable summary', (v) => parsePositiveInt(v, '--top'), 5)
    .action(async (dirs: string[], opts: { json?: boolean; top: number }) => {
      const { replayIncident, replayJsonLine } = replayModule();
      let failed = 0;
      for (const dir of dirs) {
        const r = await replayIncident(dir);
        for (const w of r.warnings) process.stderr.write(`faultline: warning: ${w}\n`);
        if (r.error !== undefined) failed++;
        process.stdout.write((opts.json ? replayJsonLine(r) : formatReplay(r, opts.top)) + '\n');
      }
      if (failed > 0) {
        if (!opts.json) process.stderr.write(`faultline: ${failed} of ${dirs.length} incident(s) could not be replayed\n`);
        process.exitCode = 1;
      }
    });
}

export function parsePositiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer (got "${v}")`);
  return n;
}

/** A readable summary of one replay: top causes with evidence, then the truth comparison. */
export function formatReplay(r: ReplayResult, top = 5): string {
  if (r.error !== undefined) return `${r.incident}: ERROR ${r.error}`;
  const d = r.diagnosis!;
  const lines: string[] = [];
  lines.push(`${r.id} (${r.incident}): ${r.ms} ms, ${r.services} services, ${r.spans} spans, ${r.metricPoints} metric points`);
  const a = d.anomaly;
  lines.push(
    a.detected
      ? `  anomaly at ${a.changeAtMs !== undefined ? new Date(a.changeAtMs).toISOString() : '?'} (normal taken from: ${a.baselineSource})`
      : `  no anomaly detected (normal taken from: ${a.baselineSource})`,
  );
  if (d.summary) lines.push(`  ${d.summary}`);
  const causes = new Map(d.causes.map((c) => [c.service, c]));
  (r.ranking ?? []).slice(0, top).forEach((e, i) => {
    const mark = r.truth && e.service === r.truth.service ? '   <- truth' : '';
    lines.push(`  ${i + 1}. ${e.service}${e.instance ? ` (${e.instance})` : ''}  ${e.kind}  score ${e.score}${mark}`);
    for (const ev of causes.get(e.service)?.evidence.slice(0, 3) ?? []) lines.push(`       - ${ev.title}`);
  });
  if (d.propagationPath.length > 1) lines.push(`  propagation: ${d.propagationPath.join(' -> ')}`);
  if (r.truth) {
    const t = r.truth;
    const where = r.truthRank !== undefined ? `ranked #${r.truthRank}` : 'not ranked';
    const kindNote = r.truthRank !== undefined ? (r.ranking![r.truthRank - 1].kind === t.kind ? ', kind right' : `, kind given ${r.ranking![r.truthRank - 1].kind}`) : '';
    lines.push(`  truth: ${t.service}${t.instance ? ` (${t.instance})` : ''} ${t.kind} from ${t.start}: ${where}${kindNote}`);
  } else {
    lines.push('  truth: not recorded');
  }
  return lines.join('\n');
}
