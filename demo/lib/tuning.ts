// What the demo's tuning scripts (tune-bench.ts, tune-landscape.ts) do to the system and read
// from faultline: set a service's knobs on all its instances, and each service's server-side
// p99 from faultline's service graph.
import { requestJson } from './http-json';
import type { DemoSystem } from '../system';

export async function setServiceKnobs(demo: DemoSystem, service: string, values: Record<string, number>): Promise<void> {
  for (const inst of demo.instances.filter((i) => i.service === service)) await requestJson('PUT', `${inst.url}/admin/knobs`, values);
}

/** p99 (ms) per service from `GET /api/v1/graph?<window>` (NaN for a service without spans there). */
export async function serviceP99s(apiUrl: string, window: string, services: string[]): Promise<Record<string, number>> {
  const g = (await requestJson('GET', `${apiUrl}/api/v1/graph?${window}`)) as { nodes: Array<{ service: string; stats: { p99Ms: number } }> };
  return Object.fromEntries(services.map((s) => [s, g.nodes.find((n) => n.service === s)?.stats.p99Ms ?? Number.NaN]));
}

/** Rows per model-server request: the ranker's chunkSize knob, as the ranker itself reads it. */
export async function modelRowsPerRequest(demo: DemoSystem): Promise<number> {
  const k = (await requestJson('GET', `${demo.find('ranker').url}/admin/knobs`)) as { knobs: { chunkSize: { value: number } } };
  return k.knobs.chunkSize.value;
}
