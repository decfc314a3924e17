// Every committed fixture incident replays to the right answer: the true service ranked
// first, named with the true fault kind (and instance, where the truth names one). fixtures/incidents are simulated
// (bench/simulate-incidents.ts --fixtures), fixtures/demo-incidents were recorded from the
// live demo system (demo/record-fixtures.ts). The replay is the one `faultline replay` and
// `faultline bench` run (agent/incident/replay.ts), which reads the truth only after ranking.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { replayIncident } from '../../agent/incident/replay';

const ROOT = path.join(__dirname, '..', '..', 'fixtures');
const incidentDirs = (set: string) =>
  readdirSync(path.join(ROOT, set))
    .map((name) => path.join(ROOT, set, name))
    .filter((dir) => statSync(dir).isDirectory());

jest.setTimeout(60_000);

/** The fault kinds each set must cover (the demo has no disk fault to inject). */
const KINDS: Record<string, string[]> = {
  incidents: ['config', 'cpu', 'delay', 'disk', 'error', 'loss', 'memory'],
  'demo-incidents': ['config', 'cpu', 'delay', 'error', 'loss', 'memory'],
};

describe.each(Object.keys(KINDS))('fixtures/%s', (set) => {
  const dirs = incidentDirs(set);

  test('covers its fault kinds', () => {
    const kinds = dirs.map((d) => (JSON.parse(readFileSync(path.join(d, 'incident.json'), 'utf8')) as { truth: { kind: string } }).truth.kind);
    expect([...new Set(kinds)].sort()).toEqual(KINDS[set]);
  });

  test.each(dirs.map((d) => [path.basename(d), d]))('%s: true service first, right kind', async (_name, dir) => {
    const r = await replayIncident(dir);
    expect(r.error).toBeUndefined();
    expect(r.truth).toBeDefined();
    expect({ service: r.ranking![0].service, kind: r.ranking![0].kind }).toEqual({ service: r.truth!.service, kind: r.truth!.kind });
    expect(r.truthRank).toBe(1);
    // Which instance, when the truth names one.
    if (r.truth!.instance) expect(r.ranking![0].instance).toBe(r.truth!.instance);
  });
});
