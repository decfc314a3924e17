// The demo's p99 landscape: for each load, every configuration of a small grid of the model
// server's and the feature store's knobs, applied to all instances and measured for a window.
// It is the "known optimum" of the demo for `npm run bench:tune` to be compared with, and
// the way to check that a knob moves p99 more than the measurement noise does
// (each grid point can be repeated: `--repeats`).
//
//   npx tsx demo/tune-landscape.ts --loads 10,40 --measure-sec 20 --repeats 1
//   (add --device accelerator --model-cost 6,0.06 --store-cost 3,0.25,1 for bench:tune's service models)
//
// A cache TTL's effect shows only once the entries written under the previous TTL have expired
// (the feature store fixes expiry at write): to compare TTLs give --settle-sec at least the
// longer of two neighbouring TTLs, in ascending order (e.g. --settle-sec 150 for 11 s .. 75 s).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFaultline } from './faultline';
import { serviceP99s, setServiceKnobs } from './lib/tuning';
import { LoadGenerator } from './loadgen';
import { startDemo } from './system';

const { values: args } = parseArgs({
  options: {
    loads: { type: 'string', default: '10,40' },
    'measure-sec': { type: 'string', default: '20' },
    'settle-sec': { type: 'string', default: '5' },
    repeats: { type: 'string', default: '1' },
    model: { type: 'string', default: 'batchSize=1,4,8,32;batchTimeoutMs=0.5,4,16' },
    cache: { type: 'string', default: 'cacheSize=10000,40000,200000;cacheTtlMs=60000,300000,1800000' },
    device: { type: 'string', default: '' },
    'model-cost': { type: 'string', default: '' },
    'store-cost': { type: 'string', default: '' },
  },
});

type Config = Record<string, number>;
function grid(spec: string): Config[] {
  let out: Config[] = [{}];
  for (const part of spec.split(';').filter(Boolean)) {
    const [name, values] = part.split('=');
    out = out.flatMap((c) => values.split(',').map((v) => ({ ...c, [name]: Number(v) })));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`[landscape ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tune-landscape-'));
  const env: Record<string, string> = {};
  if (args.device) env.DEMO_MODEL_DEVICE = String(args.device);
  if (args['model-cost']) env.DEMO_MODEL_COST = String(args['model-cost']);
  if (args['store-cost']) env.DEMO_STORE_COST = String(args['store-cost']);
  const fl = await startFaultline({ dataDir: path.join(dir, 'fl'), configYaml: '' });
  const demo = await startDemo({ otlpEndpoint: fl.addresses.otlpHttp, logDir: path.join(dir, 'logs'), env });
  const models = grid(String(args.model));
  const caches = grid(String(args.cache));
  const points = Math.max(models.length, caches.length);
  const measureMs = Number(args['measure-sec']) * 1000;
  try {
    for (const rate of String(args.loads).split(',').map(Number)) {
      const load = new LoadGenerator({ url: demo.gatewayUrl, rate, seed: rate, progress: 'none' });
      const done = load.start();
      await sleep(10_000);
      for (let rep = 0; rep < Number(args.repeats); rep++) {
        for (let i = 0; i < points; i++) {
          // Both services change at once (their p99s are measured server-side, each its own);
          // the shorter grid cycles.
          const m = models[i % models.length];
          const c = caches[i % caches.length];
          await setServiceKnobs(demo, 'model-server', m);
          await setServiceKnobs(demo, 'feature-store', c);
          await sleep(Number(args['settle-sec']) * 1000);
          const fromMs = Date.now();
          await sleep(measureMs);
          const toMs = Date.now();
          const gateway = load.summary(measureMs).p99Ms;
          await sleep(2500); // the exporters' batching delay
          const p99 = await serviceP99s(fl.addresses.api, `fromMs=${fromMs}&toMs=${toMs}`, ['model-server', 'feature-store']);
          const row = { rate, rep, model: m, modelP99: p99['model-server'], cache: c, cacheP99: p99['feature-store'], gateway };
          process.stdout.write(JSON.stringify(row) + '\n');
          log(`${rate} req/s  model ${JSON.stringify(m)} p99 ${row.modelP99.toFixed(1)}  cache ${JSON.stringify(c)} p99 ${row.cacheP99.toFixed(1)}  gateway ${gateway.toFixed(0)}`);
        }
      }
      await load.stop();
      await done;
    }
  } finally {
    await demo.stop().catch(() => undefined);
    await fl.stop().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`tune-landscape: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
