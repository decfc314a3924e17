// Runs diagnose on imported Nezha TrainTicket incidents (../shared relative to the repo root)
// and checks the true service ranks first where the method is known to get it. The truth is
// read only after the ranking. Skips cleanly when the dataset is not there.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagnose } from '../../analyzers';
import { listNezhaFaults, loadNezhaIncident } from '../../agent/importers/nezha';

const root = path.resolve(__dirname, '../../../shared/datasets/nezha-trainticket');
const present = fs.existsSync(path.join(root, 'rca_data'));
const maybe = present ? describe : describe.skip;

// One of each kind the traces can show: a cpu hog, two network delays, a code-level exception.
const CASES = ['2023-01-29T14:49:57Z', '2023-01-30T12:06:12Z', '2023-01-30T12:29:29Z', '2023-01-29T10:12:48Z'];

maybe('diagnose on Nezha TrainTicket incidents', () => {
  const faults = present ? listNezhaFaults(root) : [];

  it('lists all faults of every day with UTC inject times', () => {
    expect(faults.length).toBeGreaterThanOrEqual(34);
    expect(faults[0]).toMatchObject({ day: '2023-01-29', injectTime: '2023-01-29T08:43:04Z', pod: 'ts-contacts-service-866bd68c97-xcqfx', type: 'return' });
  });

  for (const injectTime of CASES) {
    it(`ranks the injected service first (${injectTime})`, () => {
      const fault = faults.find((f) => f.injectTime === injectTime);
      expect(fault).toBeDefined();
      const inc = loadNezhaIncident(root, fault!);
      expect(inc.spans.length).toBeGreaterThan(1000);
      expect(inc.baseline.spans.length).toBeGreaterThan(1000);
      let fromMs = Infinity, toMs = -Infinity;
      for (const s of inc.spans) {
        fromMs = Math.min(fromMs, s.startMs);
        toMs = Math.max(toMs, s.startMs + s.durationMs);
      }
      const d = diagnose({ fromMs, toMs, spans: inc.spans, metrics: inc.metrics, baseline: inc.baseline });
      expect(d.anomaly.detected).toBe(true);
      expect(d.causes.length).toBeGreaterThanOrEqual(5);
      expect(d.causes[0].service).toBe(inc.truth.service);
      if (inc.truth.kind === 'delay') expect(d.causes[0].kind).toBe('delay');
    });
  }
});
