// Records one incident per fault kind from the live demo system into
// fixtures/demo-incidents/<id>/ (the incident format, gzip-compressed), through faultline's
// own API: POST /api/v1/incidents with the ground truth.
//
//   npx tsx demo/record-fixtures.ts [--out fixtures/demo-incidents] [--rate 6] [--pre 30] [--fault 45] [--only id,id]
//
// Each incident's window is [injection - pre, injection + fault]: normal traffic, then the fault.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { FaultlineApi, REPO_ROOT, startFaultline, type RunningFaultline } from './faultline';
import { LoadGenerator, formatWindow } from './loadgen';
import { installExitHooks } from './lib/processes';
import { SCENARIOS } from './scenarios';
import { startDemo, type DemoSystem } from './system';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: path.join(REPO_ROOT, 'fixtures', 'demo-incidents') },
      rate: { type: 'string', default: '6' },
      warmup: { type: 'string', default: '30' },
      pre: { type: 'string', default: '30' },
      fault: { type: 'string', default: '45' },
      recover: { type: 'string', default: '15' },
      only: { type: 'string' },
    },
  });
  const [rate, warmupSec, preSec, faultSec, recoverSec] = [values.rate, values.warmup, values.pre, values.fault, values.recover].map(Number);
  const only = values.only?.split(',');
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.id));
  if (scenarios.length === 0) throw new Error(`--only matches no scenario; ids: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  const out = path.resolve(values.out!);
  fs.mkdirSync(out, { recursive: true });

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-record-'));
  let faultline: RunningFaultline | undefined;
  let demo: DemoSystem | undefined;
  let load: LoadGenerator | undefined;
  const stopAll = async () => {
    await load?.stop();
    await demo?.stop();
    await faultline?.stop();
  };
  installExitHooks(stopAll);
  try {
    // autoRecord off: only the incidents asked for below are written.
    faultline = await startFaultline({
      dataDir,
      logFile: path.join(dataDir, 'faultline.log'),
      configYaml: 'detection: { intervalSeconds: 5, windowMinutes: 1, cooldownSeconds: 15, autoRecord: false }\n',
    });
    const api = new FaultlineApi(faultline.addresses.api);
    demo = await startDemo({ otlpEndpoint: faultline.addresses.otlpHttp, metricIntervalMs: 5000, logDir: path.join(dataDir, 'logs') });
    load = new LoadGenerator({ url: demo.gatewayUrl, rate, progress: 'none' });
    void load.start();
    log(`faultline ${faultline.addresses.api}; demo up; ${rate} req/s; warming up ${warmupSec} s`);
    await sleep(warmupSec * 1000);

    for (const sc of scenarios) {
      await sleep(preSec * 1000);
      const target = demo.find(sc.target);
      const injectAt = Date.now();
      await demo.injectFault(sc.target, { ...sc.fault, durationSec: faultSec + 60 });
      log(`${sc.id}: ${sc.fault.kind} on ${target.instance}`);
      await sleep(faultSec * 1000);
      log(`${sc.id}: with the fault ${formatWindow(load.summary(faultSec * 1000))}`);
      const id = `demo-${sc.id}`;
      const dest = path.join(out, id);
      fs.rmSync(dest, { recursive: true, force: true });
      const rec = await api.recordIncident({
        id: `${id}-${Date.now().toString(36)}`,
        system: 'demo-recsys',
        description: `faultline demo: ${sc.fault.kind} fault (intensity ${sc.fault.intensity ?? 'default'}) on ${target.instance}, ${rate} req/s`,
        fromMs: injectAt - preSec * 1000,
        toMs: Date.now(),
        truth: { service: target.service, instance: target.instance, kind: sc.fault.kind, start: new Date(injectAt).toISOString() },
      });
      await demo.clearFaults();
      copyIncident(path.join(dataDir, rec.incident.dir), dest, id);
      log(`${sc.id}: recorded ${rec.spans} spans, ${rec.metricPoints} metric points -> ${path.relative(REPO_ROOT, dest)} (${(dirBytes(dest) / 1e6).toFixed(2)} MB)`);
      await sleep(recoverSec * 1000);
    }
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  log(`done: ${(dirBytes(out) / 1e6).toFixed(2)} MB in ${path.relative(REPO_ROOT, out)}`);
}

/** Copies an incident folder, gzip-compressing the .jsonl files and naming it `id`. */
function copyIncident(src: string, dest: string, id: string): void {
  fs.mkdirSync(dest, { recursive: true });
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    if (entry.isDirectory()) copyIncident(from, path.join(dest, entry.name), id);
    else if (entry.name === 'incident.json') {
      const meta = JSON.parse(fs.readFileSync(from, 'utf8'));
      fs.writeFileSync(path.join(dest, entry.name), JSON.stringify({ ...meta, id }, null, 2) + '\n');
    } else if (entry.name.endsWith('.jsonl')) fs.writeFileSync(path.join(dest, entry.name + '.gz'), zlib.gzipSync(fs.readFileSync(from), { level: 9 }));
    else fs.copyFileSync(from, path.join(dest, entry.name));
  }
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? dirBytes(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size;
  return n;
}

main().catch((err) => {
  process.stderr.write(`record-fixtures: ${(err as Error).message}\n`);
  process.exit(1);
});
