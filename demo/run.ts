// `npm run demo`: faultline watching a real recommendation system, end to end.
//   1. start `faultline serve` (ephemeral ports, a temporary data dir);
//   2. start the demo services, exporting OTLP/HTTP to faultline;
//   3. drive load, warm up, inject one fault;
//   4. wait for faultline to publish a diagnosis on its own (falls back to asking for one);
//   5. print the ranked causes and where to look; stop everything (or --keep until Ctrl-C).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_FAULT_KINDS, type DemoFaultKind } from './lib/faults';
import { installExitHooks, killAllChildrenNow } from './lib/processes';
import { formatWindow, LoadGenerator } from './loadgen';
import { FaultlineApi, formatDiagnosis, startFaultline, waitForDiagnosis, type RunningFaultline } from './faultline';
import { DEFAULT_TOPOLOGY, startDemo, type DemoSystem } from './system';

const HELP = `npm run demo -- [options]

  --fault KIND            cpu | memory | delay | loss | error | config   (default cpu)
  --target SVC[:INST]     service (and instance) to break                (default model-server:model-server-1)
  --intensity N           fault strength (cpu share, MB/s, ms, share of requests, or the bad knob value)
  --rate N                requests per second                            (default 20)
  --warmup SEC            load before the fault                           (default 45)
  --detect-timeout SEC    wait this long for faultline's own diagnosis    (default 90)
  --api-port N            faultline API port (default 0 = any free port)
  --base-port N           demo services on N, N+1, ... (default 0 = any free ports)
  --data-dir DIR          faultline data and the service logs (default a temporary folder)
  --otlp URL              do not start faultline; export to this OTLP/HTTP endpoint instead
  --keep                  leave everything running until Ctrl-C
`;

const t0 = Date.now();
const tty = process.stdout.isTTY;
let status = '';

function log(msg: string): void {
  const stamp = `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`;
  process.stdout.write((tty && status ? '\r\x1b[2K' : '') + `${stamp} ${msg}\n`);
  if (tty && status) process.stdout.write(status);
}

function setStatus(s: string): void {
  if (!tty) return;
  status = s;
  process.stdout.write(`\r\x1b[2K${s}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      fault: { type: 'string', default: 'cpu' },
      target: { type: 'string', default: 'model-server:model-server-1' },
      intensity: { type: 'string' },
      rate: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '45' },
      'detect-timeout': { type: 'string', default: '90' },
      'api-port': { type: 'string', default: '0' },
      'base-port': { type: 'string', default: '0' },
      'data-dir': { type: 'string' },
      otlp: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const kind = values.fault as DemoFaultKind;
  if (!DEMO_FAULT_KINDS.includes(kind)) throw new Error(`--fault must be one of ${DEMO_FAULT_KINDS.join(', ')}`);
  const num = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number; got '${v}'`);
    return n;
  };
  const rate = num('rate', values.rate);
  const warmupSec = num('warmup', values.warmup);
  const detectTimeoutSec = num('detect-timeout', values['detect-timeout']);
  const intensity = values.intensity === undefined ? undefined : Number(values.intensity);
  const [targetService, targetInstance] = values.target!.split(':');
  const count = DEFAULT_TOPOLOGY[targetService];
  if (!count) throw new Error(`--target: no service '${targetService}'; services: ${Object.keys(DEFAULT_TOPOLOGY).join(', ')}`);
  const names = Array.from({ length: count }, (_, i) => `${targetService}-${i + 1}`);
  if (targetInstance && !names.includes(targetInstance) && !names.includes(`${targetService}-${targetInstance}`)) {
    throw new Error(`--target: no instance '${targetInstance}' of ${targetService}; instances: ${names.join(', ')}`);
  }
  const dataDir = values['data-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-demo-'));
  const logDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });

  let faultline: RunningFaultline | undefined;
  let demo: DemoSystem | undefined;
  let load: LoadGenerator | undefined;
  const stopAll = async () => {
    setStatus('');
    await load?.stop();
    await demo?.stop();
    await faultline?.stop();
  };
  installExitHooks(async () => {
    log('interrupted: stopping everything');
    await stopAll();
  });

  try {
    let otlp = values.otlp;
    if (!otlp) {
      log(`starting faultline serve (data ${dataDir})`);
      faultline = await startFaultline({ dataDir, apiPort: num('api-port', values['api-port']), logFile: path.join(logDir, 'faultline.log') });
      otlp = faultline.addresses.otlpHttp;
      log(`faultline api ${faultline.addresses.api}, OTLP/HTTP ${otlp}`);
    }
    log('starting the demo services');
    demo = await startDemo({ otlpEndpoint: otlp, basePort: num('base-port', values['base-port']), logDir });
    const target = demo.find(values.target!);
    log(`${demo.instances.length} processes up: ${demo.instances.map((i) => `${i.instance}:${i.port}`).join(' ')}`);
    log(`gateway ${demo.gatewayUrl}  (try: curl '${demo.gatewayUrl}/recommend?user=u1')`);

    load = new LoadGenerator({ url: demo.gatewayUrl, rate, progress: 'none' });
    void load.start();
    log(`load: ${rate} req/s open-loop; warming up ${warmupSec} s`);
    const warmEnd = Date.now() + warmupSec * 1000;
    while (Date.now() < warmEnd) {
      setStatus(`warm-up ${Math.ceil((warmEnd - Date.now()) / 1000)} s left | ${formatWindow(load.summary(10_000))}`);
      await sleep(1000);
    }
    const before = load.summary(15_000);
    log(`before the fault: ${formatWindow(before)}`);

    const injectAt = Date.now();
    const fault = { kind, intensity, durationSec: Math.max(120, detectTimeoutSec + 60) };
    const started = (await demo.injectFault(values.target!, fault)) as { started: { intensity: number; target?: string } };
    log(`injected fault: ${kind} on ${target.instance} (intensity ${started.started.intensity}${started.started.target ? `, knob ${started.started.target}` : ''})`);

    if (!faultline) {
      log(`no faultline started (--otlp); watching the load for ${detectTimeoutSec} s`);
      const end = Date.now() + detectTimeoutSec * 1000;
      while (Date.now() < end) {
        setStatus(`fault active | ${formatWindow(load.summary(10_000))}`);
        await sleep(1000);
      }
      log(`with the fault: ${formatWindow(load.summary(20_000))}`);
    } else {
      const api = new FaultlineApi(faultline.addresses.api);
      log(`waiting up to ${detectTimeoutSec} s for faultline to notice on its own`);
      const result = await waitForDiagnosis(api, {
        afterMs: injectAt,
        timeoutMs: detectTimeoutSec * 1000,
        onPoll: () => setStatus(`waiting for a diagnosis ${((Date.now() - injectAt) / 1000).toFixed(0)} s | ${formatWindow(load!.summary(10_000))}`),
      });
      setStatus('');
      log(`with the fault: ${formatWindow(load.summary(15_000))}`);
      if (result.source === 'auto') log(`faultline published a diagnosis on its own ${(result.delayMs / 1000).toFixed(1)} s after the injection`);
      else log(`faultline published nothing within ${detectTimeoutSec} s; asked for a diagnosis now (POST /api/v1/diagnoses)`);
      process.stdout.write('\n' + formatDiagnosis(result.diagnosis) + '\n\n');
      const top = result.diagnosis.causes[0];
      const right = top && top.service === target.service;
      log(`truth: ${kind} on ${target.service} (${target.instance}); faultline's first cause: ${top ? `${top.kind} on ${top.service}${top.instance ? ` (${top.instance})` : ''}` : 'none'} -> ${right ? (top.kind === kind ? 'right service and kind' : 'right service, other kind') : 'not first'}`);
      const a = faultline.addresses.api;
      log(`look: web view ${a}/   diagnosis ${a}/api/v1/diagnoses/${result.diagnosis.id}   graph ${a}/api/v1/graph   all ${a}/api/v1/diagnoses`);
    }

    if (values.keep) {
      log('--keep: everything keeps running (fault still active until it expires); Ctrl-C stops it');
      await new Promise(() => undefined);
    }
    await demo.clearFaults();
    log('stopping');
    await stopAll();
    log(`done; logs in ${logDir}`);
  } catch (err) {
    setStatus('');
    log(`error: ${(err as Error).message}`);
    await stopAll().catch(() => killAllChildrenNow());
    process.exitCode = 1;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().catch((err) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  killAllChildrenNow();
  process.exit(2);
});
