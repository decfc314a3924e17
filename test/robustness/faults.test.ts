// Faults around a real `faultline serve` process:
// - kill -9 while incidents are being recorded (POST /api/v1/incidents): after a restart on the
//   same data dir every acknowledged incident is listed, its folder is complete (as many spans
//   as acknowledged), and nothing half-written is listed;
// - an unreachable forwarding upstream and scrape target degrade only themselves: ingest and
//   the API keep working, and /readyz and faultline_component_up say which part is down;
// - an unreachable LLM endpoint loses only the explanation: diagnoses still answer, and /readyz
//   and faultline_llm_steps_total say why.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { decodeTraces } from '../../collectors/otlp/decode';
import { encodeTraceRequest } from '../../bench/lib/otlp-traffic';
import { type SidecarProcess, spawnSidecar } from '../../bench/lib/processes';

jest.setTimeout(120_000);

const live: SidecarProcess[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((s) => s.stop()));
});

async function start(opts: Parameters<typeof spawnSidecar>[0] = {}): Promise<SidecarProcess> {
  const s = await spawnSidecar(opts);
  live.push(s);
  return s;
}

async function sendSpans(sc: SidecarProcess, requests: number, spansPerRequest = 100): Promise<number> {
  let sent = 0;
  for (let i = 0; i < requests; i++) {
    const { body, spans } = encodeTraceRequest({ spansPerRequest });
    const res = await fetch(`${sc.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body, signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    sent += spans;
  }
  return sent;
}

/** Spans in an incident folder's traces file (OTLP/JSON, one request a line). */
function spansInFolder(dir: string): number {
  const file = fs.readdirSync(dir).find((f) => f.startsWith('traces'));
  if (!file) return 0;
  let n = 0;
  for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) if (line.trim()) n += decodeTraces(line, 'json').items.length;
  return n;
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('kill -9 while recording incidents loses no acknowledged incident', async () => {
  const first = await start({ configYaml: 'detection: { autoRecord: false }\n' });
  const sent = await sendSpans(first, 30);
  expect(sent).toBe(3000);

  // Record incidents back to back, several at a time, and kill -9 while some are in flight.
  const acked = new Map<string, number>();
  let stop = false;
  let seq = 0;
  const recorder = async () => {
    while (!stop) {
      const id = `inc-kill-${++seq}`;
      try {
        const res = await fetch(`${first.api}/api/v1/incidents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, lastMinutes: 10, description: 'recorded under kill -9' }),
          signal: AbortSignal.timeout(15_000),
        });
        const body = (await res.json()) as { spans: number };
        if (res.status === 201) acked.set(id, body.spans);
        else throw new Error(`recording ${id}: ${res.status} ${JSON.stringify(body)}`);
      } catch (e) {
        if (!stop) throw e;
      }
    }
  };
  const workers = [recorder(), recorder(), recorder()];
  const deadline = Date.now() + 30_000;
  while (acked.size < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  first.kill('SIGKILL');
  stop = true;
  await first.exited;
  await Promise.allSettled(workers);
  expect(acked.size).toBeGreaterThanOrEqual(6);

  const second = await start({ dataDir: first.dataDir, configYaml: 'detection: { autoRecord: false }\n' });
  const listed = new Map<string, { dir: string }>();
  let cursor: string | undefined;
  do {
    const res = await fetch(`${second.api}/api/v1/incidents?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: Array<{ id: string; dir: string }>; nextCursor?: string };
    for (const it of page.items) listed.set(it.id, it);
    cursor = page.nextCursor;
  } while (cursor);

  for (const [id, spans] of acked) {
    expect(listed.has(id)).toBe(true);
    const dir = path.resolve(first.dataDir, listed.get(id)!.dir);
    expect(spansInFolder(dir)).toBe(spans);
    const archive = await fetch(`${second.api}/api/v1/incidents/${id}/archive`);
    expect(archive.status).toBe(200);
    expect((await archive.arrayBuffer()).byteLength).toBeGreaterThan(100);
  }
  // Whatever else is listed (acknowledged only by the disk, not to us) must be whole too.
  for (const [id, rec] of listed) {
    if (acked.has(id)) continue;
    const dir = path.resolve(first.dataDir, rec.dir);
    expect(fs.existsSync(path.join(dir, 'incident.json'))).toBe(true);
    expect(spansInFolder(dir)).toBeGreaterThan(0);
  }
  // And the restarted sidecar records again.
  await sendSpans(second, 2);
  const again = await fetch(`${second.api}/api/v1/incidents`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lastMinutes: 10 }) });
  expect(again.status).toBe(201);
});

test('an unreachable forwarding upstream and scrape target degrade only themselves, visibly', async () => {
  const port = await closedPort();
  const sc = await start({
    configYaml: [
      'otlp:',
      `  forward: { endpoint: "http://127.0.0.1:${port}", timeoutMs: 1000 }`,
      'prometheus:',
      '  intervalSeconds: 1',
      `  targets: [{ url: "http://127.0.0.1:${port}/metrics", service: "ranker" }]`,
      '',
    ].join('\n'),
  });
  // Ingest keeps working and keeps everything while the upstream is down.
  const sent = await sendSpans(sc, 10);
  let ready: { status: string; components: Array<{ component: string; status: string; message?: string }> } | undefined;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`${sc.api}/readyz`);
    ready = (await res.json()) as typeof ready;
    const forwarder = ready!.components.find((c) => c.component === 'forwarder');
    const scrape = ready!.components.find((c) => c.component.startsWith('prometheus'));
    if (forwarder?.status === 'degraded' && scrape?.status === 'degraded') {
      // Degraded optional parts do not make the sidecar unready.
      expect(res.status).toBe(200);
      expect(forwarder.message).toMatch(/unreachable|refused|failed/i);
      expect(scrape.message).toMatch(/failed|refused/i);
      break;
    }
    if (Date.now() > deadline) throw new Error(`forwarder/scrape never reported degraded: ${JSON.stringify(ready)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const core of ['otlp-http', 'otlp-grpc', 'state', 'watcher']) expect(ready!.components.find((c) => c.component === core)?.status).toBe('ok');

  const metrics = await (await fetch(`${sc.api}/metrics`)).text();
  const up = (name: string) => new RegExp(`^faultline_component_up\\{component="${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}[^"]*"\\} (\\d)`, 'm').exec(metrics)?.[1];
  expect(up('forwarder')).toBe('0');
  expect(up('prometheus')).toBe('0');
  expect(up('otlp-http')).toBe('1');
  expect(up('watcher')).toBe('1');
  const stored = Number(/^faultline_store_items\{signal="spans"\} (\d+)/m.exec(metrics)?.[1]);
  expect(stored).toBe(sent);
  // The API still answers.
  expect((await fetch(`${sc.api}/api/v1/diagnoses`)).status).toBe(200);
  expect((await fetch(`${sc.api}/healthz`)).status).toBe(200);
});

test('an unreachable LLM endpoint loses only the explanation, visibly in /readyz and /metrics', async () => {
  const port = await closedPort();
  const sc = await start({
    configYaml: ['llm:', '  enabled: true', `  baseURL: "http://127.0.0.1:${port}/v1"`, '  apiKey: "sk-test"', '  model: "any"', '  timeoutSeconds: 2', ''].join('\n'),
  });
  const before = (await (await fetch(`${sc.api}/readyz`)).json()) as { components: Array<{ component: string; status: string }> };
  expect(before.components.find((c) => c.component === 'llm')?.status).toBe('ok');
  await sendSpans(sc, 5);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${sc.api}/api/v1/diagnoses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lastMinutes: 10, llm: true }) });
    // The deterministic diagnosis stands, with the failure noted on it.
    expect(res.status).toBe(201);
    const d = (await res.json()) as { causes: unknown[]; llm?: { status: string; reason?: string } };
    expect(d.llm).toMatchObject({ status: 'fallback', reason: 'call_failed' });
  }
  const res = await fetch(`${sc.api}/readyz`);
  expect(res.status).toBe(200);
  const ready = (await res.json()) as { components: Array<{ component: string; status: string; message?: string }> };
  const llm = ready.components.find((c) => c.component === 'llm');
  expect(llm?.status).toBe('degraded');
  expect(llm?.message).toMatch(/failed/i);
  for (const core of ['otlp-http', 'state', 'watcher']) expect(ready.components.find((c) => c.component === core)?.status).toBe('ok');
  const metrics = await (await fetch(`${sc.api}/metrics`)).text();
  expect(/^faultline_llm_steps_total\{outcome="call_failed"\} 3$/m.test(metrics)).toBe(true);
  expect(/^faultline_component_up\{component="llm"\} 0$/m.test(metrics)).toBe(true);
});
