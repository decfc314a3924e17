// `faultline import nezha <nezha-root> <out-dir>`: convert a public RCA dataset into
// incident folders (one per fault, truth and a fault-free baseline/ included) that
// `faultline replay` and `faultline bench` read.

import path from 'node:path';
import type { Command } from 'commander';
import { listNezhaFaults, loadNezhaIncident } from '../importers/nezha';
import { progressLine } from '../incident/progress';
import { writeIncident } from '../incident/writer';
import { CliError } from '../cli';

export function register(program: Command): void {
  const imp = program.command('import').description('Convert a public incident dataset into incident folders');
  imp
    .command('nezha')
    .description('Nezha (IntelligentDDS/Nezha) rca_data/construct_data layout -> one incident folder per fault')
    .argument('<nezha-root>', 'folder holding rca_data/ (and construct_data/ for baselines)')
    .argument('<out-dir>', 'where to write the incident folders')
    .option('--no-gzip', 'write plain .jsonl instead of .jsonl.gz')
    .option('--only <text>', 'import only faults whose id contains this text')
    .action(async (root: string, outDir: string, opts: { gzip: boolean; only?: string }) => {
      let faults;
      try {
        faults = listNezhaFaults(root);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      if (faults.length === 0) throw new CliError(`${root}: no faults found (expected rca_data/<day>/<day>-fault_list.json)`);
      const progress = progressLine();
      let written = 0;
      let failed = 0;
      const ids = new Set<string>();
      for (let i = 0; i < faults.length; i++) {
        const f = faults[i];
        const label = `${f.day} ${f.injectTime} ${f.type} ${f.pod}`;
        progress.update(`import nezha: ${i + 1}/${faults.length} ${label}`);
        try {
          const inc = loadNezhaIncident(root, f);
          if (opts.only && !inc.id.includes(opts.only)) continue;
          // Two faults of one minute and type would share an id; keep both.
          const id = ids.has(inc.id) ? `${inc.id}-${f.hour}-${f.index}` : inc.id;
          ids.add(id);
          const dir = path.join(outDir, id);
          await writeIncident(
            dir,
            {
              meta: { id, system: 'trainticket', description: inc.description, truth: inc.truth },
              spans: inc.spans,
              metrics: inc.metrics,
              baseline: inc.baseline,
            },
            { gzip: opts.gzip },
          );
          written++;
          progress.log(`${dir}: ${inc.spans.length} spans, ${inc.metrics.length} metric points, baseline ${inc.baseline.spans.length} spans`);
        } catch (e) {
          failed++;
          progress.log(`faultline: fault ${label}: ${(e as Error).message}`);
        }
      }
      progress.done();
      process.stderr.write(`imported ${written} incident(s) into ${outDir}${failed ? `, ${failed} failed` : ''}\n`);
      if (failed > 0) process.exitCode = 1;
    });
}
