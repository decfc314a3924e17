// `faultline replay <incident-dir>... [--json]`: diagnose recorded incidents. With --json
// the output is exactly the replay contract (shared spec incident-format.md): one JSON line
// per incident, in the order given, nothing else on stdout.

import { InvalidArgumentError, type Command } from 'commander';
import type { ReplayResult } from '../incident/replay';
import type { Diagnosis } from '../../model/diagnosis';
import type { Snapshot } from '../../model/telemetry';

// Loaded when the command runs: the analyzers are not needed to start the CLI for other commands.
const replayModule = () => require('../incident/replay') as typeof import('../incident/replay');

export function register(program: Command): void {
  program
    .command('replay')
    .description('Diagnose recorded incident folders (incident.json + OTLP/JSON traces.jsonl/metrics.jsonl)')
    .argument('<incident-dir...>', 'incident folders')
    .option('--json', 'one JSON line per incident: {"incident","ranking":[{service,instance?,kind,score}],"ms"} or {"incident","error"}')
    .option('--top <n>', 'causes shown in the readable summary', (v) => parsePositiveInt(v, '--top'), 5)
    .option('--llm', 'run the optional LLM step (OPENAI_BASE_URL, OPENAI_API_KEY, FAULTLINE_LLM_MODEL); --json lines gain an "llm" object')
    .action(async (dirs: string[], opts: { json?: boolean; top: number; llm?: boolean }) => {
      const { replayIncident, replayJsonLine } = replayModule();
      let failed = 0;
      for (const dir of dirs) {
        const r = await replayIncident(dir, opts.llm ? { explain: llmExplain() } : {});
        for (const w of r.warnings) process.stderr.write(`faultline: warning: ${w}\n`);
        if (r.error !== undefined) failed++;
        const line = opts.json ? replayJsonLine(r) : formatReplay(r, opts.top);
        process.stdout.write((opts.llm ? withLlm(line, r, !!opts.json) : line) + '\n');
      }
      if (failed > 0) {
        if (!opts.json) process.stderr.write(`faultline: ${failed} of ${dirs.length} incident(s) could not be replayed\n`);
        process.exitCode = 1;
      }
    });
}

// The LLM step (llm/, issue 6): configured from the agent config / env, never required.
function llmExplain() {
  const llm = require('../../llm') as typeof import('../../llm');
  const { loadConfig } = require('../config') as typeof import('../config');
  let config: import('../../llm').LlmConfig;
  try {
    config = llm.llmConfigFromAgent(loadConfig().llm);
  } catch {
    config = llm.llmConfigFromEnv(process.env); // a broken config file must not stop a replay
  }
  return (d: Diagnosis, snapshot: Snapshot) => llm.maybeExplain(d, llm.snapshotReader(snapshot), config);
}

function withLlm(line: string, r: ReplayResult, json: boolean): string {
  if (r.error !== undefined || !r.diagnosis) return line;
  const { llmSummary } = require('../../llm') as typeof import('../../llm');
  const summary = llmSummary(r.diagnosis);
  if (!summary) return line;
  if (json) return JSON.stringify({ ...JSON.parse(line), llm: summary });
  return `${line}\n  llm: ${summary.note}${summary.explanation ? `\n  llm explanation: ${summary.explanation}` : ''}`;
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
