// `faultline serve` as a user runs it: a real process, real SDK exporters, the real API.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import * as net from 'node:net';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/faultline.cjs');

interface Addresses { api: string; otlpHttp: string; otlpGrpc: string }

async function waitForFile(file: string, child: ChildProcess, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
    if (child.exitCode !== null) throw new Error(`faultline exited early with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ready file after ${timeoutMs} ms`);
}

describe('faultline serve', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let stderr = '';

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-serve-'));
    stderr = '';
  });
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  it('receives spans from a real SDK exporter, serves the graph, and stops cleanly on SIGTERM', async () => {
    const readyFile = path.join(dir, 'ready.json');
    child = spawn(process.execPath, [BIN, 'serve', '--api-port', '0', '--otlp-http-port', '0', '--otlp-grpc-port', '0', '--data-dir', path.join(dir, 'data'), '--ready-file', readyFile, '--no-host-metrics'], {
      env: { ...process.env, FAULTLINE_TOKEN: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d) => (stderr += d));
    const addr = JSON.parse(await waitForFile(readyFile, child)) as Addresses;
    expect(addr.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(addr.otlpHttp).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // Two services calling each other, exported over OTLP/HTTP protobuf as an SDK would.
    const providers = ['ranker', 'model-server'].map((service) => {
      const exporter = new OTLPTraceExporter({ url: `${addr.otlpHttp}/v1/traces` });
      return new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': `${service}-1`, 'host.name': 'node-a' }),
        spanProcessors: [new BatchSpanProcessor(exporter)],
      });
    });
    const [rankerTracer, modelTracer] = providers.map((p) => p.getTracer('test'));
    for (let i = 0; i < 20; i++) {
      const server = rankerTracer.startSpan('POST /rank', { kind: SpanKind.SERVER });
      const ctx = trace.setSpan(context.active(), server);
      const client = rankerTracer.startSpan('POST /infer', { kind: SpanKind.CLIENT }, ctx);
      const inner = modelTracer.startSpan('POST /infer', { kind: SpanKind.SERVER }, trace.setSpan(context.active(), client));
      if (i === 0) inner.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      inner.end();
      client.end();
      server.end();
    }
    await Promise.all(providers.map((p) => p.forceFlush()));
    await Promise.all(providers.map((p) => p.shutdown()));

    const graph = (await (await fetch(`${addr.api}/api/v1/graph?lastMinutes=5`)).json()) as { nodes: Array<{ service: string }>; edges: unknown[] };
    const services = (graph.nodes as Array<{ service: string }>).map((n) => n.service).sort();
    expect(services).toEqual(['model-server', 'ranker']);
    expect(graph.edges).toEqual(expect.arrayContaining([expect.objectContaining({ from: 'ranker', to: 'model-server' })]));

    const metrics = await (await fetch(`${addr.api}/metrics`)).text();
    expect(metrics).toMatch(/faultline_received_items_total\{signal="traces",receiver="otlp-http"\} 60/);

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(stderr).toContain('SIGTERM, stopping');
  });

  it('runs the tuner when configured: its API answers, and changes need the token', async () => {
    // A service admin endpoint the tuner's HTTP applier reads and writes.
    const knobs: Record<string, number> = { maxBatch: 8 };
    const admin = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (req.method === 'PUT') Object.assign(knobs, JSON.parse(body));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(knobs));
      });
    });
    await new Promise<void>((r) => admin.listen(0, '127.0.0.1', () => r()));
    const adminUrl = `http://127.0.0.1:${(admin.address() as net.AddressInfo).port}`;
    const file = path.join(dir, 'faultline.yaml');
    fs.writeFileSync(
      file,
      [
        'tuner:',
        '  service: model-server',
        '  mode: observe',
        '  knobs:',
        '    - {name: maxBatch, type: int, min: 1, max: 64, log: true, maxStep: 2, default: 8}',
        `  applier: {kind: http, targets: [{instance: model-1, url: "${adminUrl}"}]}`,
        '',
      ].join('\n'),
    );
    const readyFile = path.join(dir, 'ready.json');
    try {
      child = spawn(process.execPath, [BIN, 'serve', '-c', file, '--api-port', '0', '--otlp-http-port', '0', '--otlp-grpc-port', '0', '--data-dir', path.join(dir, 'data'), '--ready-file', readyFile, '--no-host-metrics'], {
        env: { ...process.env, FAULTLINE_TOKEN: 'a-long-test-token' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr!.on('data', (d) => (stderr += d));
      const addr = JSON.parse(await waitForFile(readyFile, child)) as Addresses;
      const regime = await fetch(`${addr.api}/api/v1/tuner/regime`);
      expect(regime.status).toBe(200);
      const refused = await fetch(`${addr.api}/api/v1/tuner/kill-switch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ on: true }) });
      expect(refused.status).toBe(401);
      const ok = await fetch(`${addr.api}/api/v1/tuner/kill-switch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer a-long-test-token' },
        body: JSON.stringify({ on: true, actor: 'test', reason: 'serve test' }),
      });
      expect(ok.status).toBeLessThan(300);
      const history = (await (await fetch(`${addr.api}/api/v1/tuner/history`)).json()) as unknown;
      expect(JSON.stringify(history)).toContain('kill-switch');
      expect(fs.readFileSync(path.join(dir, 'data', 'tuner-audit.jsonl'), 'utf8')).toContain('kill-switch');
    } finally {
      admin.close();
    }
  });

  it('refuses a bad config file with a message naming the file and key, exit code 2', () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'api:\n  prot: 1\n');
    const r = spawnSync(process.execPath, [BIN, 'serve', '-c', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}: invalid configuration`);
    expect(r.stderr).toContain("api: unknown key(s) 'prot'");
  });

  it('says which port is taken instead of crashing with a stack', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = spawnSync(process.execPath, [BIN, 'serve', '--api-port', '0', '--otlp-http-port', String(port), '--otlp-grpc-port', '0', '--data-dir', path.join(dir, 'data'), '--no-host-metrics'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`${port}`));
      expect(r.stderr).toMatch(/EADDRINUSE|in use/);
    } finally {
      blocker.close();
    }
  });
});
