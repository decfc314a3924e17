// What the LLM step would send for each recorded incident: evidence packet size, estimated
// prompt tokens, and the size of each tool's answer (before the per-tool budget). No model
// is called. Run: npx tsx bench/llm-packet.ts [incident-dir...]   (default: fixtures/incidents/*)

import fs from 'node:fs';
import path from 'node:path';
import { diagnose } from '../analyzers/index';
import { loadIncident } from '../agent/incident/reader';
import { defaultLlmConfig, Redactor, snapshotReader, SYSTEM_PROMPT } from '../llm';
import { buildContext, buildEvidencePacket } from '../llm/packet';
import { runTool, toolDefinitions } from '../llm/tools';

async function main() {
  const root = path.resolve(__dirname, '../fixtures/incidents');
  const dirs = process.argv.slice(2).length ? process.argv.slice(2) : fs.readdirSync(root).map((d) => path.join(root, d)).filter((d) => fs.existsSync(path.join(d, 'incident.json')));
  const cfg = defaultLlmConfig();
  console.log('incident | spans | packet chars | ~prompt tokens (system+packet+tools) | service_stats | edge_stats | metric_series | example_traces(slow,3) | redactions');
  for (const dir of dirs) {
    const { snapshot, meta } = await loadIncident(dir, { withoutTruth: true });
    const d = diagnose(snapshot, { id: meta.id, nowMs: snapshot.toMs });
    const reader = snapshotReader(snapshot);
    const redactor = new Redactor(cfg.redact);
    const ctx = buildContext(d, reader);
    const packet = JSON.stringify(buildEvidencePacket(ctx, cfg.topK ?? 5, redactor));
    const tools = JSON.stringify(toolDefinitions({ reader: true, changes: true }));
    const top = d.causes[0]?.service ?? '';
    const rt = { ctx, redactor, maxOutputChars: 1e9 };
    const caller = d.propagationPath[1] ?? top;
    const metric = [...ctx.metricNames][0] ?? 'none';
    const size = (name: string, args: unknown) => {
      const r = runTool(rt, 't', name, JSON.stringify(args));
      return `${r.text.length}${r.result.status === 'ok' ? '' : ` (${r.result.status})`}`;
    };
    console.log(
      [
        meta.id,
        snapshot.spans.length,
        packet.length,
        Math.ceil((SYSTEM_PROMPT.length + packet.length + tools.length) / 4),
        size('service_stats', { service: top }),
        size('edge_stats', { from: caller, to: top }),
        size('metric_series', { name: metric, service: top }),
        size('example_traces', { service: top, kind: 'slow', limit: 3 }),
        JSON.stringify(redactor.counts),
      ].join(' | '),
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
