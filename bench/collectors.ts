// Costs of the Prometheus parser and the host collector on this machine.
//   npx tsx bench/collectors.ts
// Parser: a node_exporter-sized body (~57 KB) built from the recorded fixture with more
// devices/CPUs, parsed and converted N times. Host: sampleOnce() first call (currentLoad
// baseline) and the steady-state calls, with and without the process-count set.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHostCollector, defaultHostCollectorConfig } from '../collectors/host';
import { familiesToMetricPoints } from '../collectors/prometheus/convert';
import { parsePrometheusText } from '../collectors/prometheus/parse';
import type { ConsumeResult, TelemetrySink } from '../model/sink';
import type { MetricPoint } from '../model/telemetry';

function nodeExporterBody(targetBytes: number): string {
  const fixture = readFileSync(join(__dirname, '../test/fixtures-data/prometheus/node-exporter-sample.txt'), 'utf8');
  const parts = [fixture];
  let size = fixture.length;
  // More CPUs and devices, as a real node_exporter on a bigger host exposes.
  for (let i = 0; size < targetBytes; i++) {
    const block =
      `# HELP node_disk_written_bytes_total_${i} The total number of bytes written successfully.\n# TYPE node_disk_written_bytes_total_${i} counter\n` +
      Array.from({ length: 16 }, (_, d) => `node_disk_written_bytes_total_${i}{device="nvme${d}n1"} ${(1.5e9 * (d + 1)).toExponential(9)}\n`).join('') +
      `# TYPE node_cpu_guest_seconds_total_${i} counter\n` +
      Array.from({ length: 8 }, (_, c) => `node_cpu_guest_seconds_total_${i}{cpu="${c}",mode="nice"} ${c * 0.13}\n`).join('');
    parts.push(block);
    size += block.length;
  }
  return parts.join('');
}

function bench(name: string, n: number, f: () => void): void {
  for (let i = 0; i < Math.min(50, n); i++) f(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
  console.log(`${name}: ${ms.toFixed(3)} ms/op`);
}

async function main(): Promise<void> {
  const body = nodeExporterBody(57_500);
  const parsed = parsePrometheusText(body);
  console.log(`body ${(body.length / 1024).toFixed(1)} KB, ${parsed.families.reduce((n, f) => n + f.samples.length, 0)} samples, ${parsed.errors.length} errors`);
  bench('parsePrometheusText', 500, () => parsePrometheusText(body));
  bench('parse + familiesToMetricPoints', 500, () => familiesToMetricPoints(parsePrometheusText(body).families, { service: 's', instance: 'i:1', host: 'h' }, 0));

  let points = 0;
  const sink: TelemetrySink = {
    consumeSpans: (): ConsumeResult => ({ ok: true, accepted: 0, rejected: 0 }),
    consumeMetrics: (p: MetricPoint[]): ConsumeResult => ((points = p.length), { ok: true, accepted: p.length, rejected: 0 }),
  };
  const host = createHostCollector({ ...defaultHostCollectorConfig(), processIntervalMs: 0 }, sink);
  let t = Date.now();
  await host.sampleOnce();
  console.log(`host sampleOnce first call (with processes): ${Date.now() - t} ms, ${points} points`);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = Date.now();
    await host.sampleOnce();
    times.push(Date.now() - t);
  }
  console.log(`host sampleOnce with processes: ${times.join(', ')} ms, ${points} points`);
  const fast = createHostCollector({ ...defaultHostCollectorConfig(), processIntervalMs: 1e12 }, sink);
  await fast.sampleOnce();
  times.length = 0;
  for (let i = 0; i < 5; i++) {
    t = Date.now();
    await fast.sampleOnce();
    times.push(Date.now() - t);
  }
  console.log(`host sampleOnce fast set only: ${times.join(', ')} ms, ${points} points`);
}

void main();
