// End to end: faultline serve + the demo system on loopback (ephemeral ports), real load,
// one fault of each kind on a different service in turn; faultline must find it ON ITS OWN
// and rank the true service first with the right kind, through its HTTP API.
//
// Takes ~2.5 minutes and most of a 2-core machine, so it runs only with FAULTLINE_E2E=1, on
// its own after the rest of the suite (`npm test` ends with `npm run test:e2e`):
//   FAULTLINE_E2E=1 npx jest test/demo/e2e.test.ts
// On a shared 2-core machine a scenario occasionally puts a bystander first (1 in 24 scenario
// runs measured, docs/demo.md); a scenario that misses is retried once, re-injecting the fault,
// and jest logs the first attempt's failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemo, type DemoSystem } from '../../demo/system';
import { LoadGenerator } from '../../demo/loadgen';
import { FaultlineApi, startFaultline, waitForDiagnosis, type RunningFaultline } from '../../demo/faultline';
import { SCENARIOS } from '../../demo/scenarios';
import { killAllChildrenNow } from '../../demo/lib/processes';

const RUN = process.env.FAULTLINE_E2E === '1';
jest.retryTimes(1, { logErrorsBeforeRetry: true });
const WARMUP_MS = Number(process.env.FAULTLINE_E2E_WARMUP_MS ?? 30_000);
const DETECT_TIMEOUT_MS = Number(process.env.FAULTLINE_E2E_DETECT_MS ?? 30_000);
const RECOVER_MS = Number(process.env.FAULTLINE_E2E_RECOVER_MS ?? 12_000);

(RUN ? describe : describe.skip)('faultline diagnoses faults injected into the demo system', () => {
  let dataDir: string;
  let faultline: RunningFaultline | undefined;
  let demo: DemoSystem | undefined;
  let load: LoadGenerator | undefined;
  let api: FaultlineApi;
  const results: string[] = [];
  const injections: Array<{ scenario: string; atMs: number; clearedAtMs?: number }> = [];
  const rows: Array<Record<string, unknown>> = [];
  const onSigint = () => {
    killAllChildrenNow();
    process.exit(130);
  };

  beforeAll(async () => {
    process.once('SIGINT', onSigint);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-e2e-'));
    faultline = await startFaultline({ dataDir, logFile: path.join(dataDir, 'faultline.log') });
    api = new FaultlineApi(faultline.addresses.api);
    demo = await startDemo({ otlpEndpoint: faultline.addresses.otlpHttp, metricIntervalMs: 2000, logDir: path.join(dataDir, 'logs') });
    load = new LoadGenerator({ url: demo.gatewayUrl, rate: 25, progress: 'none' });
    void load.start();
    await new Promise((r) => setTimeout(r, WARMUP_MS));
  }, 120_000);

  afterAll(async () => {
    process.off('SIGINT', onSigint);
    if (results.length) {
      process.stderr.write(`demo e2e results:\n${results.join('\n')}\n`);
      // Kept for comparison across runs as the analyzers change (test-artifacts/ is not committed).
      fs.mkdirSync(path.join(__dirname, '..', '..', 'test-artifacts'), { recursive: true });
      fs.writeFileSync(path.join(__dirname, '..', '..', 'test-artifacts', 'demo-e2e.json'), JSON.stringify({ atMs: Date.now(), warmupMs: WARMUP_MS, injections, rows }, null, 2) + '\n');
    }
    if (process.env.FAULTLINE_E2E_KEEP && faultline) {
      // The whole run as one incident folder, so the watcher's detection can be replayed offline.
      await api.recordIncident({ lastMinutes: 15, id: 'whole-run', description: 'demo e2e: the whole run' }).catch((e: Error) => process.stderr.write(`recording the run failed: ${e.message}\n`));
      process.stderr.write(`demo e2e data dir kept: ${dataDir}\n`);
    }
    await load?.stop().catch(() => undefined);
    await demo?.stop().catch(() => undefined);
    await faultline?.stop().catch(() => undefined);
    killAllChildrenNow();
    if (dataDir && !process.env.FAULTLINE_E2E_KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  test('the watcher stays silent through the fault-free warm-up', async () => {
    const early = (await api.diagnoses(20)).filter((d) => d.source === 'watch');
    results.push(`  warm-up                  ${early.length} diagnoses by the watcher${early.map((d) => `; ${d.summary}`).join('')}`);
    rows.push({ scenario: 'warm-up', watcherDiagnoses: early.map((d) => ({ summary: d.summary, changeAtMs: d.changeAtMs, createdAtMs: d.createdAtMs })) });
    expect(early.map((d) => d.summary)).toEqual([]);
  });

  for (const sc of SCENARIOS) {
    test(
      `${sc.fault.kind} on ${sc.target}`,
      async () => {
        const target = demo!.find(sc.target);
        const injectAt = Date.now();
        await demo!.injectFault(sc.target, { ...sc.fault, durationSec: 120 });
        const mark: { scenario: string; atMs: number; clearedAtMs?: number } = { scenario: sc.id, atMs: injectAt };
        injections.push(mark);
        try {
          const passedOver: string[] = [];
          const r = await waitForDiagnosis(api, {
            afterMs: injectAt,
            timeoutMs: DETECT_TIMEOUT_MS,
            onIgnored: (d) => passedOver.push(`${d.summary} (change ${d.changeAtMs !== undefined ? ((d.changeAtMs - injectAt) / 1000).toFixed(1) : '?'} s, published ${((d.createdAtMs - injectAt) / 1000).toFixed(1)} s after the injection)`),
          });
          const top = r.diagnosis.causes[0];
          results.push(
            `  ${sc.id.padEnd(24)} ${r.source.padEnd(9)} delay ${(r.delayMs / 1000).toFixed(1).padStart(5)} s  first: ${top?.service}/${top?.kind}` +
              `  ranks: ${r.diagnosis.causes.slice(0, 5).map((c) => `${c.service}/${c.kind}`).join(', ')}` +
              passedOver.map((p) => `\n      passed over (not about this fault): ${p}`).join(''),
          );
          rows.push({
            scenario: sc.id,
            truth: { service: target.service, instance: target.instance, kind: sc.fault.kind },
            source: r.source,
            delayMs: r.delayMs,
            passedOver,
            ranking: r.diagnosis.causes.slice(0, 5).map((c) => ({ service: c.service, instance: c.instance, kind: c.kind, score: c.score })),
          });
          expect(r.source).toBe('auto');
          expect({ service: top?.service, kind: top?.kind }).toEqual({ service: target.service, kind: sc.fault.kind });
        } finally {
          await demo!.clearFaults();
          mark.clearedAtMs = Date.now();
          await new Promise((res) => setTimeout(res, RECOVER_MS));
        }
      },
      DETECT_TIMEOUT_MS + RECOVER_MS + 30_000,
    );
  }
});
