// OTLP/HTTP ingest benchmark: this process runs the receiver and a real TelemetryStore; a
// SEPARATE child process drives OTLP/HTTP protobuf load over keep-alive connections for N
// seconds. Reports spans/s accepted, the receiver process's CPU seconds per second and its
// peak RSS (the load generator's CPU is reported apart, so the receiver's cost is its own).
//
//   npx tsx bench/ingest.ts [--seconds 10] [--connections 8] [--spans 100] [--gzip] [--json]
//   npm run bench:ingest -- --seconds 20

import { fork } from 'node:child_process';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { TelemetryStore } from '../agent/store/telemetry-store';
import { createOtlpReceiver, defaultOtlpReceiverConfig } from '../collectors/otlp';
import type { ConsumeResult, TelemetrySink } from '../model/sink';
import type { MetricPoint, Span } from '../model/telemetry';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const root: any = require('otlp-gen-root/build/src/generated/root'); // fixture encoder only

interface Options {
  seconds: number;
  connections: number;
  spans: number;
  gzip: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 10, connections: 8, spans: 100, gzip: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') o.seconds = Number(argv[++i]);
    else if (a === '--connections') o.connections = Number(argv[++i]);
    else if (a === '--spans') o.spans = Number(argv[++i]);
    else if (a === '--gzip') o.gzip = true;
    else if (a === '--json') o.json = true;
  }
  return o;
}

/** Request bodies shaped like a recommendation service's traces: 5 services, HTTP attrs. */
function makeBodies(o: Options, count: number): Buffer[] {
  const R = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
  const services = ['gateway', 'ranker', 'recall', 'feature-store', 'user-profile'];
  const rnd = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
  const now = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: count }, (_, b) => {
    const service = services[b % services.length];
    const traceId = rnd(16);
    const spans = Array.from({ length: o.spans }, (_, i) => {
      const start = now + BigInt(i) * 1000n;
      return {
        traceId,
        spanId: rnd(8),
        parentSpanId: i === 0 ? Buffer.alloc(0) : rnd(8),
        name: ['POST /rank', 'recall.fetch', 'feature.get', 'redis GET', 'model.score'][i % 5],
        kind: 2 + (i % 2),
        startTimeUnixNano: start.toString(),
        endTimeUnixNano: (start + BigInt(100_000 + i * 997)).toString(),
        attributes: [
          { key: 'http.method', value: { stringValue: 'POST' } },
          { key: 'http.route', value: { stringValue: '/rank' } },
          { key: 'http.status_code', value: { intValue: 200 } },
          { key: 'rec.candidates', value: { intValue: 500 + i } },
        ],
        status: { code: i % 50 === 0 ? 2 : 0 },
      };
    });
    const obj = {
      resourceSpans: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: { stringValue: service } },
              { key: 'service.instance.id', value: { stringValue: `${service}-${b % 3}` } },
              { key: 'host.name', value: { stringValue: `node-${b % 4}` } },
            ],
          },
          scopeSpans: [{ scope: { name: 'bench' }, spans }],
        },
      ],
    };
    const msg = R.fromObject(obj);
    let body: Buffer;
    if (o.json) {
      const js = R.toObject(msg, { longs: String, bytes: String, defaults: false });
      // OTLP/JSON wants hex ids, not protobuf-JSON base64.
      for (const rs of js.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) for (const k of ['traceId', 'spanId', 'parentSpanId']) if (s[k]) s[k] = Buffer.from(s[k], 'base64').toString('hex');
      body = Buffer.from(JSON.stringify(js));
    } else body = Buffer.from(R.encode(msg).finish());
    return o.gzip ? zlib.gzipSync(body) : body;
  });
}

// ---------------------------------------------------------------------------------------
// Load generator (child process): keep-alive POST loops, one per connection.

async function runLoad(url: string, o: Options): Promise<void> {
  const bodies = makeBodies(o, 32);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const target = new URL(url + '/v1/traces');
  const headers: Record<string, string> = { 'content-type': o.json ? 'application/json' : 'application/x-protobuf' };
  if (o.gzip) headers['content-encoding'] = 'gzip';
  // Bodies are built and tsx has loaded: tell the receiver to start its clocks, then go.
  process.send!({ ready: true });
  await new Promise((r) => process.once('message', r));
  const end = Date.now() + o.seconds * 1000;
  const status: Record<number, number> = {};
  let requests = 0;
  const cpu0 = process.cpuUsage();
  const one = (body: Buffer) =>
    new Promise<void>((resolve) => {
      const req = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
        status[res.statusCode ?? 0] = (status[res.statusCode ?? 0] ?? 0) + 1;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => {
        status[-1] = (status[-1] ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: o.connections }, async (_, c) => {
      let i = c;
      while (Date.now() < end) {
        await one(bodies[i++ % bodies.length]);
        requests++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  process.send!({ requests, status, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
}

// ---------------------------------------------------------------------------------------
// Receiver (this process).

class CountingSink implements TelemetrySink {
  spans = 0;
  points = 0;
  constructor(private readonly store: TelemetryStore) {}
  consumeSpans(spans: Span[]): ConsumeResult {
    const r = this.store.consumeSpans(spans);
    if (r.ok) this.spans += r.accepted;
    return r;
  }
  consumeMetrics(points: MetricPoint[]): ConsumeResult {
    const r = this.store.consumeMetrics(points);
    if (r.ok) this.points += r.accepted;
    return r;
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.argv.includes('--load')) {
    await runLoad(process.argv[process.argv.indexOf('--load') + 1], o);
    return;
  }
  const store = new TelemetryStore();
  const sink = new CountingSink(store);
  const config = defaultOtlpReceiverConfig();
  config.http.port = 0;
  config.grpc.enabled = false;
  config.limits.memorySoftLimitBytes = 2 * 1024 ** 3; // measure throughput, not shedding
  const receiver = createOtlpReceiver(config, sink, { memoryUsedBytes: () => store.estimatedBytes() });
  await receiver.start();
  const url = receiver.addresses().http!;

  const child = fork(__filename, [...process.argv.slice(2), '--load', url], { execArgv: process.execArgv });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`))));
  await Promise.race([new Promise((r) => child.once('message', r)), exited]);
  let peakRss = process.memoryUsage.rss();
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  const accepted0 = sink.spans;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  child.send('go');
  const load = await Promise.race([new Promise<{ requests: number; status: Record<string, number>; cpuSeconds: number }>((r) => child.once('message', (m) => r(m as never))), exited]);
  child.removeAllListeners('exit');
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(rssTimer);
  await receiver.stop();

  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const mib = (n: number) => (n / 1048576).toFixed(0);
  const result = {
    body: `${o.spans} spans/request, ${o.json ? 'JSON' : 'protobuf'}${o.gzip ? ' gzip' : ''}`,
    connections: o.connections,
    seconds: +seconds.toFixed(2),
    requests: load.requests,
    statuses: load.status,
    spansAccepted: sink.spans - accepted0,
    spansPerSecond: Math.round((sink.spans - accepted0) / seconds),
    receiverCpuSecondsPerSecond: +(cpuSeconds / seconds).toFixed(2),
    spansPerReceiverCpuSecond: Math.round((sink.spans - accepted0) / cpuSeconds),
    loadGeneratorCpuSecondsPerSecond: +(load.cpuSeconds / seconds).toFixed(2),
    receiverPeakRssMiB: +mib(peakRss),
    storeHeldSpans: store.stats().spans,
    storeEvictedSpans: store.stats().evictedSpans,
    machine: `${require('node:os').cpus().length} vCPU, load average ${require('node:os').loadavg().map((x: number) => x.toFixed(2)).join(' ')} (shared machine)`,
  };
  console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
