// Writes simulated incident folders (agent/incident/simulate.ts) for replay and bench.
//
//   npx tsx bench/simulate-incidents.ts --fixtures fixtures/incidents   the committed fixture set
//   npx tsx bench/simulate-incidents.ts --count 40 --seed 7 /tmp/sim    a random set for `faultline bench`
//
// Same arguments, same bytes: the simulator is seeded and the writer deterministic.

import path from 'node:path';
import { prng, simulateIncident, TOPOLOGY, type SimulatedFault, type SimulationOptions } from '../agent/incident/simulate';
import { writeIncident } from '../agent/incident/writer';

/** One fixture per fault kind; small (1 request/s, 2 minutes, fault after 72 s) and gzip-compressed. */
export const FIXTURES: Array<SimulationOptions & { fault: SimulatedFault }> = [
  { id: 'sim-cpu-ranker', seed: 11, fault: { kind: 'cpu', service: 'ranker', instance: 'ranker-1' } },
  { id: 'sim-memory-feature-store', seed: 12, fault: { kind: 'memory', service: 'feature-store', instance: 'feature-store-0' } },
  { id: 'sim-disk-feature-store', seed: 17, fault: { kind: 'disk', service: 'feature-store', instance: 'feature-store-1' } },
  { id: 'sim-delay-recall-cf', seed: 13, fault: { kind: 'delay', service: 'recall-cf', instance: 'recall-cf-0', fromService: 'candidates' } },
  { id: 'sim-loss-candidates', seed: 14, fault: { kind: 'loss', service: 'candidates', instance: 'candidates-0', fromService: 'recommend' } },
  { id: 'sim-error-model-server', seed: 15, fault: { kind: 'error', service: 'model-server', instance: 'model-server-0' } },
  { id: 'sim-config-recommend', seed: 16, fault: { kind: 'config', service: 'recommend' } },
];

export const FIXTURE_SHAPE = { durationMs: 120_000, faultAfterMs: 72_000, requestsPerSecond: 1 };

const KINDS: SimulatedFault['kind'][] = ['cpu', 'memory', 'disk', 'delay', 'loss', 'error', 'config'];

/** A random but reproducible set: kind, service and instance drawn per incident. */
export function randomSet(count: number, seed: number): SimulationOptions[] {
  const rand = prng(seed);
  const services = [...new Set(TOPOLOGY.map((i) => i.service))].filter((s) => s !== 'gateway');
  const out: SimulationOptions[] = [];
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % KINDS.length];
    const service = services[Math.floor(rand() * services.length)];
    const instances = TOPOLOGY.filter((t) => t.service === service);
    const instance = instances[Math.floor(rand() * instances.length)].instance;
    out.push({
      id: `sim-${String(i + 1).padStart(3, '0')}-${kind}-${instance}`,
      seed: seed * 1000 + i,
      fault: { kind, service, instance: kind === 'config' ? undefined : instance },
      durationMs: 240_000,
      requestsPerSecond: 2,
    });
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const fixturesDir = flag('--fixtures');
  const count = flag('--count');
  const seed = Number(flag('--seed') ?? 1);
  const plain = args.includes('--plain');
  if (fixturesDir) {
    for (const f of FIXTURES) {
      const dir = path.join(fixturesDir, f.id);
      await writeIncident(dir, simulateIncident({ ...FIXTURE_SHAPE, ...f }), { gzip: !plain });
      process.stderr.write(`wrote ${dir}\n`);
    }
    return;
  }
  const out = args.find((a) => !a.startsWith('--'));
  if (!count || !out) {
    process.stderr.write('usage: simulate-incidents.ts --fixtures <dir> | --count N [--seed S] [--plain] <out-dir>\n');
    process.exitCode = 2;
    return;
  }
  for (const o of randomSet(Number(count), seed)) {
    const dir = path.join(out, o.id);
    await writeIncident(dir, simulateIncident(o), { gzip: !plain });
    process.stderr.write(`wrote ${dir}\n`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`simulate-incidents: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  });
}
