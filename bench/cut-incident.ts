// Cuts a time range out of a recorded incident folder into a new one (gzip), optionally
// keeping only 1 trace in N (whole traces: by trace id), and sets its meta. For turning a kept
// demo e2e run (FAULTLINE_E2E_KEEP=1, incidents/whole-run, ~120 MB) into a fixture that holds
// one moment of it (fixtures/watch/demo-cpu-after-warmup was made this way).
//
//   npx tsx bench/cut-incident.ts <incident dir> <out dir> --from ISO --to ISO
//        [--sample N] [--id ID] [--description TEXT] [--truth '{"service":…,"kind":…,"start":ISO}']
import { parseArgs } from 'node:util';
import { parseIncidentMeta } from '../agent/incident/format';
import { loadIncident } from '../agent/incident/reader';
import { writeIncident } from '../agent/incident/writer';

async function main(): Promise<void> {
  const { values: args, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      sample: { type: 'string', default: '1' },
      id: { type: 'string' },
      description: { type: 'string' },
      truth: { type: 'string' },
    },
  });
  if (positionals.length !== 2 || !args.from || !args.to) throw new Error('usage: cut-incident <incident dir> <out dir> --from ISO --to ISO [--sample N] [--id ID] [--description TEXT] [--truth JSON]');
  const [src, out] = positionals;
  const fromMs = Date.parse(args.from);
  const toMs = Date.parse(args.to);
  if (!(fromMs < toMs)) throw new Error(`--from ${args.from} must be a time before --to ${args.to}`);
  const every = Number(args.sample);
  if (!Number.isInteger(every) || every < 1) throw new Error(`--sample ${args.sample}: a whole number ≥ 1`);
  const { snapshot, meta } = await loadIncident(src);
  // Whole traces: a trace is kept or dropped by its id, so every kept trace is complete.
  const keep = (traceId: string) => every === 1 || parseInt(traceId.slice(-8), 16) % every === 0;
  const spans = snapshot.spans.filter((s) => s.startMs >= fromMs && s.startMs < toMs && keep(s.traceId));
  const metrics = snapshot.metrics.filter((m) => m.timeMs >= fromMs && m.timeMs < toMs);
  const newMeta = parseIncidentMeta(
    {
      ...meta,
      ...(args.id ? { id: args.id } : {}),
      ...(args.description ? { description: args.description } : {}),
      ...(args.truth ? { truth: JSON.parse(args.truth) } : {}),
    },
    '--id/--description/--truth',
  );
  await writeIncident(out, { meta: newMeta, spans, metrics }, { gzip: true });
  process.stdout.write(`${out}: ${spans.length} spans, ${metrics.length} metric points from ${args.from} to ${args.to}${every > 1 ? `, 1 trace in ${every}` : ''}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`cut-incident: ${e.message}\n`);
  process.exitCode = 1;
});
