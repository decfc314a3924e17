// False-positive check for detection: diagnose() on fault-free recordings must report no
// change. Uses the part of each recorded incident before its (known) fault start, and the
// Nezha fault-free construct_data traces.
//   npx tsx bench/detection-false-positives.ts <incident-dir>...
//   e.g. npx tsx bench/detection-false-positives.ts fixtures/incidents/* fixtures/demo-incidents/demo-*

import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagnose } from '../analyzers';
import { listNezhaFaults, loadNezhaIncident } from '../agent/importers/nezha';
import { loadIncident } from '../agent/incident/reader';

(async () => {
  const nezha = path.resolve(__dirname, '../../shared/datasets/nezha-trainticket');
  if (fs.existsSync(nezha)) {
    const b = loadNezhaIncident(nezha, listNezhaFaults(nezha)[0]).baseline.spans;
    let lo = Infinity, hi = -Infinity;
    for (const s of b) {
      lo = Math.min(lo, s.startMs);
      hi = Math.max(hi, s.startMs);
    }
    const d = diagnose({ fromMs: lo, toMs: hi + 1, spans: b, metrics: [] });
    console.log(`nezha construct_data traces (fault-free, ${b.length} spans): detected=${d.anomaly.detected}${d.anomaly.detected ? ` ${JSON.stringify(d.anomaly.signals.slice(0, 2))}` : ''}`);
  }
  let fp = 0, n = 0;
  for (const dir of process.argv.slice(2)) {
    if (!fs.existsSync(path.join(dir, 'incident.json'))) continue;
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'incident.json'), 'utf8'));
    if (!meta.truth?.start) continue;
    const { snapshot } = await loadIncident(dir, { withoutTruth: true });
    const t = Date.parse(meta.truth.start);
    const spans = snapshot.spans.filter((s) => s.startMs < t);
    const metrics = snapshot.metrics.filter((m) => m.timeMs < t);
    const d = diagnose({ fromMs: snapshot.fromMs, toMs: t, spans, metrics });
    n++;
    if (d.anomaly.detected) {
      fp++;
      console.log(`false positive: ${dir} at +${((d.anomaly.changeAtMs! - snapshot.fromMs) / 1000).toFixed(0)} s ${JSON.stringify(d.anomaly.signals.slice(0, 2))}`);
    }
  }
  console.log(`fault-free prefixes detected as changed: ${fp}/${n}`);
})();
