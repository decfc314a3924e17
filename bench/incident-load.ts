// How fast incident folders are written and read back (through the OTLP decoder and the
// store, as replay does), and what it costs in memory.
//
//   npx tsx bench/incident-load.ts [requestsPerSecond=40] [minutes=10]
//
// Simulates one incident (about 20 spans a request), writes it plain and gzip'd to a
// temporary folder, loads each back and diagnoses it, and prints one line per step.

import { mkdtemp, rm, stat, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { diagnose } from '../analyzers/index';
import { loadIncident } from '../agent/incident/reader';
import { simulateIncident } from '../agent/incident/simulate';
import { writeIncident } from '../agent/incident/writer';

async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? await folderBytes(p) : (await stat(p)).size;
  }
  return n;
}

async function main(): Promise<void> {
  const rps = Number(process.argv[2] ?? 40);
  const minutes = Number(process.argv[3] ?? 10);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'faultline-incident-load-'));
  try {
    let t = performance.now();
    const content = simulateIncident({ id: 'load', seed: 9, durationMs: minutes * 60_000, requestsPerSecond: rps, fault: { kind: 'cpu', service: 'ranker', instance: 'ranker-0' } });
    const spans = content.spans.length;
    console.log(`simulate: ${spans} spans, ${content.metrics.length} metric points in ${Math.round(performance.now() - t)} ms`);
    for (const gzip of [false, true]) {
      const dir = path.join(tmp, gzip ? 'gz' : 'plain');
      t = performance.now();
      await writeIncident(dir, content, { gzip });
      const writeMs = performance.now() - t;
      const bytes = await folderBytes(dir);
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      t = performance.now();
      const { snapshot } = await loadIncident(dir);
      const loadMs = performance.now() - t;
      const rssAfter = process.memoryUsage().rss;
      t = performance.now();
      diagnose(snapshot);
      const diagMs = performance.now() - t;
      console.log(
        `${gzip ? 'gzip ' : 'plain'}: ${(bytes / 2 ** 20).toFixed(1)} MiB on disk; write ${Math.round(writeMs)} ms (${Math.round(spans / (writeMs / 1000))} spans/s); ` +
          `load ${Math.round(loadMs)} ms (${Math.round(spans / (loadMs / 1000))} spans/s, RSS +${Math.round((rssAfter - rssBefore) / 2 ** 20)} MiB); diagnose ${Math.round(diagMs)} ms`,
      );
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`incident-load: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
