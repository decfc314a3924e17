// The demo recommendation system on its own: real processes on ephemeral loopback ports,
// exporting real OTLP/HTTP to a small receiver in the test.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { startDemo, type DemoSystem } from '../../demo/system';
import { requestJson, HttpError } from '../../demo/lib/http-json';
import { LoadGenerator } from '../../demo/loadgen';
import { startOtlpSink, type OtlpSink } from './otlp-sink';

jest.setTimeout(60_000);

let sink: OtlpSink;
let demo: DemoSystem;

beforeAll(async () => {
  sink = await startOtlpSink();
  demo = await startDemo({ otlpEndpoint: sink.url, metricIntervalMs: 1000, seed: 3 });
}, 90_000);

afterAll(async () => {
  await demo?.stop();
  await sink?.close();
});

afterEach(async () => {
  await demo?.clearFaults();
});

const ALL = ['api-gateway', 'recommend', 'candidates', 'embedding-index', 'feature-store', 'ranker', 'model-server', 'filter'];

async function until<T>(fn: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const ROWS = { rows: Array.from({ length: 25 }, (_, i) => Array.from({ length: 24 }, (_, d) => ((i + d) % 7) / 7)) };

async function timedCalls(url: string, body: unknown, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await requestJson('POST', url, body);
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 7 + (i % 5) * 3)); // do not phase-lock with anything periodic
  }
  return out;
}

function rawPost(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; ms: number }> {
  const data = JSON.stringify(body);
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

test('answers recommendations end to end; every service exports spans and metrics over OTLP/HTTP', async () => {
  for (let i = 1; i <= 8; i++) {
    const r = await requestJson<{ user: string; items: string[] }>('GET', `${demo.gatewayUrl}/recommend?user=u${i}&n=5`);
    expect(r.user).toBe(`u${i}`);
    expect(r.items.length).toBeGreaterThan(0);
    expect(r.items.length).toBeLessThanOrEqual(5);
  }
  const related = await requestJson<{ items: string[] }>('GET', `${demo.gatewayUrl}/recommend?user=u9&surface=related&item=i42`);
  expect(related.items.length).toBeGreaterThan(0);
  await expect(requestJson('POST', `${demo.gatewayUrl}/feedback`, { user: 'u1', item: 'i3', action: 'click' })).resolves.toEqual({ ok: true });
  await expect(requestJson('GET', `${demo.gatewayUrl}/recommend`)).rejects.toMatchObject({ status: 400 });

  await until(() => ALL.every((s) => sink.spans.some((x) => x.service === s && x.kind === 2)), 10_000);
  // One trace crosses every tier: the gateway's root span and model-server's spans share the trace id.
  const root = sink.spans.find((s) => s.service === 'api-gateway' && s.kind === 2 && !s.parentSpanId)!;
  const inTrace = new Set(sink.spans.filter((s) => s.traceId === root.traceId).map((s) => s.service));
  expect([...inTrace].sort()).toEqual([...ALL].sort());
  // Both instances of the doubled services get traffic (client-side round robin).
  const instances = new Set(sink.spans.filter((s) => s.service === 'model-server').map((s) => s.instance));
  expect([...instances].sort()).toEqual(['model-server-1', 'model-server-2']);

  await until(() => ALL.every((s) => sink.metricNames.get(s)?.has('app.config.generation') && sink.metricNames.get(s)?.has('process.cpu.utilization')), 8_000);
  for (const m of ['app.batch.size', 'app.queue.depth', 'nodejs.eventloop.delay.p99', 'process.memory.usage', 'v8js.memory.heap.used', 'http.server.requests'])
    expect(sink.metricNames.get('model-server')!.has(m)).toBe(true);
  expect(sink.metricNames.get('feature-store')!.has('app.cache.hit_ratio')).toBe(true);
});

test('a cpu fault makes that instance slower, and only that one', async () => {
  const ms1 = `${demo.find('model-server:1').url}/infer`;
  const ms2 = `${demo.find('model-server:2').url}/infer`;
  const before = median(await timedCalls(ms1, ROWS, 25));
  await demo.injectFault('model-server:1', { kind: 'cpu', intensity: 0.8, durationSec: 30 });
  const during = median(await timedCalls(ms1, ROWS, 25));
  const other = median(await timedCalls(ms2, ROWS, 25));
  expect(during).toBeGreaterThan(before + 8);
  expect(other).toBeLessThan(during);
  await demo.clearFaults('model-server:1');
  const stats = await requestJson('GET', `${demo.find('model-server:1').url}/admin/stats`);
  expect(stats.faults).toEqual([]);
});

test('an error fault gives 500s with an exception and ERROR status; callers see the failure', async () => {
  const filter = demo.find('filter');
  await demo.injectFault('filter', { kind: 'error', intensity: 1, durationSec: 30 });
  const traceId = randomBytes(16).toString('hex');
  const r = await rawPost(`${filter.url}/filter`, { user: 'u1', items: ['i1', 'i2'] }, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
  expect(r.status).toBe(500);
  await expect(requestJson('GET', `${demo.gatewayUrl}/recommend?user=u2`)).rejects.toMatchObject({ status: 502 });
  const span = await until(() => sink.spans.find((s) => s.traceId === traceId && s.service === 'filter'), 5_000);
  expect(span.statusCode).toBe(2);
  await demo.clearFaults('filter');
  await expect(requestJson('GET', `${demo.gatewayUrl}/recommend?user=u2`)).resolves.toHaveProperty('items');
});

test('a loss fault resets connections without an answer or a server span', async () => {
  const fs2 = demo.find('feature-store:2');
  await demo.injectFault('feature-store:2', { kind: 'loss', intensity: 1, durationSec: 30 });
  const traceId = randomBytes(16).toString('hex');
  await expect(rawPost(`${fs2.url}/features`, { user: 'u1', items: ['i1'] }, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` })).rejects.toMatchObject({
    code: 'ECONNRESET',
  });
  await new Promise((r) => setTimeout(r, 1500));
  expect(sink.spans.some((s) => s.traceId === traceId)).toBe(false);
});

test('a delay fault holds the request before its server span starts', async () => {
  const filter = demo.find('filter');
  await demo.injectFault('filter', { kind: 'delay', intensity: 300, durationSec: 30 });
  const traceId = randomBytes(16).toString('hex');
  const r = await rawPost(`${filter.url}/filter`, { user: 'u1', items: ['i1', 'i2'] }, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
  expect(r.status).toBe(200);
  expect(r.ms).toBeGreaterThan(230);
  const span = await until(() => sink.spans.find((s) => s.traceId === traceId && s.service === 'filter'), 5_000);
  expect(span.endMs - span.startMs).toBeLessThan(100);
});

test('a memory fault grows RSS and heap', async () => {
  const cand = demo.find('candidates');
  const before = await requestJson('GET', `${cand.url}/admin/stats`);
  await demo.injectFault('candidates', { kind: 'memory', intensity: 40, durationSec: 30 });
  await new Promise((r) => setTimeout(r, 2500));
  const during = await requestJson('GET', `${cand.url}/admin/stats`);
  expect(during.rssBytes - before.rssBytes).toBeGreaterThan(40 * 1024 * 1024);
  expect(during.heapUsedBytes - before.heapUsedBytes).toBeGreaterThan(20 * 1024 * 1024);
  // Cleared, the leak gives its heap back at once, as a restart would: the next fault must not
  // start on this one's garbage (its collection at some later GC would look like a change).
  await demo.clearFaults();
  await new Promise((r) => setTimeout(r, 300));
  const after = await requestJson('GET', `${cand.url}/admin/stats`);
  expect(after.heapUsedBytes - before.heapUsedBytes).toBeLessThan(10 * 1024 * 1024);
});

test('knobs round-trip, reject bad values with 400, and a config fault goes through the knob path', async () => {
  const ms = demo.find('model-server:2').url;
  const k0 = await requestJson('GET', `${ms}/admin/knobs`);
  expect(k0.knobs.batchSize.value).toBe(8);
  const put = await requestJson('PUT', `${ms}/admin/knobs`, { batchSize: 16, batchTimeoutMs: 2.5 });
  expect(put.values).toMatchObject({ batchSize: 16, batchTimeoutMs: 2.5 });
  expect(put.generation).toBe(k0.generation + 1);
  expect((await requestJson('GET', `${ms}/admin/knobs`)).knobs.batchSize.value).toBe(16);
  for (const bad of [{ batchSize: 0 }, { batchSize: 1000 }, { batchSize: 2.5 }, { batchSize: '8' }, { nope: 1 }, {}]) {
    const err = await requestJson('PUT', `${ms}/admin/knobs`, bad).catch((e) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBe(400);
    expect(String(err.message)).toMatch(/knob/);
  }
  expect((await requestJson('GET', `${ms}/admin/knobs`)).knobs.batchSize.value).toBe(16); // nothing half-applied
  const badFault = await requestJson('POST', `${ms}/admin/faults`, { kind: 'fire' }).catch((e) => e);
  expect(badFault.status).toBe(400);

  const fs1 = demo.find('feature-store:1').url;
  const g0 = (await requestJson('GET', `${fs1}/admin/knobs`)).generation;
  await demo.injectFault('feature-store:1', { kind: 'config', durationSec: 30 });
  const spoiled = await requestJson('GET', `${fs1}/admin/knobs`);
  expect(spoiled.knobs.cacheTtlMs.value).toBe(0);
  expect(spoiled.generation).toBe(g0 + 1);
  await demo.clearFaults('feature-store:1');
  const restored = await requestJson('GET', `${fs1}/admin/knobs`);
  expect(restored.knobs.cacheTtlMs.value).toBe(300_000);
  expect(restored.generation).toBe(g0 + 2);
});

test('the load generator holds its rate and reports latency', async () => {
  const gen = new LoadGenerator({ url: demo.gatewayUrl, rate: 30, durationSec: 3, progress: 'none', seed: 5 });
  const s = await gen.start();
  expect(s.sent).toBeGreaterThan(60);
  expect(s.sent).toBeLessThan(130);
  expect(s.errorRate).toBe(0);
  expect(s.p50Ms).toBeGreaterThan(0);
  expect(s.p99Ms).toBeGreaterThanOrEqual(s.p50Ms);
});
