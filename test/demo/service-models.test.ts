// The demo's service models that the tuner benchmark relies on (demo/tune-bench.ts):
// the model server's simulated accelerator waits for a batch instead of burning the event
// loop, and the feature store's backing store serves misses over a bounded connection pool.
import { startDemo, type DemoSystem } from '../../demo/system';
import { requestJson } from '../../demo/lib/http-json';
import { startOtlpSink, type OtlpSink } from './otlp-sink';

jest.setTimeout(60_000);

let sink: OtlpSink;
let demo: DemoSystem;

beforeAll(async () => {
  sink = await startOtlpSink();
  demo = await startDemo({
    otlpEndpoint: sink.url,
    topology: { 'model-server': 1, 'feature-store': 1 },
    // 120 ms per batch whatever its size; 150 ms per backing-store read, one connection
    env: { DEMO_MODEL_DEVICE: 'accelerator', DEMO_MODEL_COST: '120,0', DEMO_STORE_COST: '150,0,1' },
  });
}, 90_000);

afterAll(async () => {
  await demo?.stop();
  await sink?.close();
});

const ROWS = { rows: [[0.1, 0.2, 0.3]] };

async function timed<T>(p: Promise<T>): Promise<number> {
  const t = performance.now();
  await p;
  return performance.now() - t;
}

test('accelerator model: batches run one at a time, and the event loop stays free while one runs', async () => {
  const url = demo.find('model-server').url;
  await requestJson('PUT', `${url}/admin/knobs`, { batchSize: 1, batchTimeoutMs: 0 });
  const a = timed(requestJson('POST', `${url}/infer`, ROWS));
  const b = timed(requestJson('POST', `${url}/infer`, ROWS));
  await new Promise((r) => setTimeout(r, 30));
  // A burnt batch would hold this answer until the batch ends (≥ 90 ms from here).
  const admin = await timed(requestJson('GET', `${url}/admin/knobs`));
  const [ta, tb] = await Promise.all([a, b]);
  expect(admin).toBeLessThan(60);
  expect(Math.min(ta, tb)).toBeGreaterThanOrEqual(110);
  expect(Math.max(ta, tb)).toBeGreaterThanOrEqual(230); // the second waited for the first batch
  // With room for both in one batch they share it.
  await requestJson('PUT', `${url}/admin/knobs`, { batchSize: 2, batchTimeoutMs: 50 });
  const [tc, td] = await Promise.all([timed(requestJson('POST', `${url}/infer`, ROWS)), timed(requestJson('POST', `${url}/infer`, ROWS))]);
  expect(Math.max(tc, td)).toBeLessThan(230);
});

test('pooled backing store: misses queue for the one connection, hits do not touch it', async () => {
  const url = demo.find('feature-store').url;
  await requestJson('PUT', `${url}/admin/knobs`, { cacheSize: 0 }); // every lookup misses
  const body = (u: string) => ({ user: u, items: ['i1', 'i2'] });
  const [ta, tb] = await Promise.all([timed(requestJson('POST', `${url}/features`, body('u1'))), timed(requestJson('POST', `${url}/features`, body('u2')))]);
  expect(Math.min(ta, tb)).toBeGreaterThanOrEqual(140);
  expect(Math.max(ta, tb)).toBeGreaterThanOrEqual(290); // queued behind the first read
  await requestJson('PUT', `${url}/admin/knobs`, { cacheSize: 1000, cacheTtlMs: 600_000 });
  await requestJson('POST', `${url}/features`, body('u3')); // fills the cache
  const [tc, td] = await Promise.all([timed(requestJson('POST', `${url}/features`, body('u3'))), timed(requestJson('POST', `${url}/features`, body('u3')))]);
  expect(Math.max(tc, td)).toBeLessThan(100);
});
