// The small HTTP framework every demo service runs on: a SERVER span per inbound request,
// a CLIENT span per outbound call (W3C traceparent), client-side round robin over
// instances, a concurrency limit, RED metrics, and the admin endpoints (faults, knobs).
//
// Where faults act, relative to the spans, matters to faultline:
//  - loss:  the socket is destroyed before anything else: no server span, the caller sees ECONNRESET;
//  - delay: the request is held BEFORE the server span starts: the gap shows between the
//           caller's client span and this service's server span (like a slow network path);
//  - error: inside the server span: 500, exception event, status ERROR;
//  - cpu/memory act on the whole process; config goes through the knob path.

import http from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { FaultController, FaultError } from './faults';
import { KnobError, Knobs, type KnobSpecs } from './knobs';
import type { Telemetry } from './telemetry';
import { mulberry32 } from './random';

export class BadRequest extends Error {}
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly errorType: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface RequestContext {
  body: any;
  query: URLSearchParams;
  span: Span;
}

export type Handler = (req: RequestContext) => Promise<unknown> | unknown;

export interface ServiceDefinition {
  name: string;
  /** Service-specific knobs (common ones are added: workerConcurrency, clientTimeoutMs when it calls others). */
  knobs: KnobSpecs;
  /** Downstream services this one calls (names), for the clientTimeoutMs knob and address checks. */
  calls: string[];
  /** Routes keyed 'METHOD /path'. Built once the runtime exists (handlers close over it). */
  routes(rt: ServiceRuntime): Record<string, Handler>;
}

export interface RuntimeOptions {
  service: string;
  instance: string;
  /** Addresses of each downstream service's instances, e.g. {"model-server": ["http://127.0.0.1:5001", ...]}. */
  peers: Record<string, string[]>;
  telemetry: Telemetry;
  seed: number;
}

const COMMON_KNOBS: KnobSpecs = {
  workerConcurrency: { min: 1, max: 1024, default: 64, integer: true, help: 'requests handled at once; more wait in a queue' },
};
const CLIENT_TIMEOUT: KnobSpecs = {
  clientTimeoutMs: { min: 1, max: 30_000, default: 2000, integer: true, unit: 'ms', help: 'timeout of each outbound call', bad: 4 },
};

const HTTP_AGENT = new http.Agent({ keepAlive: true, maxSockets: 128 });

export class ServiceRuntime {
  readonly knobs: Knobs;
  readonly faults: FaultController;
  readonly random: () => number;
  readonly tracer;
  readonly meter;
  private readonly rr = new Map<string, number>();
  private inflight = 0;
  private readonly waiters: Array<() => void> = [];
  /** Extra queue depth a service reports (model-server's batch queue). */
  queueDepthProvider: () => number = () => 0;
  private readonly stats = { requests: 0, errors: 0 };
  private readonly routes: Record<string, Handler>;
  private readonly duration;
  private readonly requests;
  private readonly clientDuration;

  constructor(
    readonly def: ServiceDefinition,
    readonly opts: RuntimeOptions,
  ) {
    // Service knobs first, so a config fault without a target spoils the service's own knob.
    this.knobs = new Knobs({ ...def.knobs, ...(def.calls.length ? CLIENT_TIMEOUT : {}), ...COMMON_KNOBS });
    this.random = mulberry32(opts.seed);
    this.faults = new FaultController(this.knobs, mulberry32(opts.seed ^ 0x5bd1e995));
    this.tracer = opts.telemetry.tracer;
    this.meter = opts.telemetry.meter;
    for (const peer of def.calls) {
      if (!opts.peers[peer]?.length) throw new Error(`${def.name}: no address for downstream service '${peer}' (DEMO_PEERS)`);
    }
    this.duration = this.meter.createHistogram('http.server.request.duration', {
      unit: 's',
      description: 'inbound request latency',
      advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
    });
    this.requests = this.meter.createCounter('http.server.requests', { description: 'inbound requests by route and status' });
    this.clientDuration = this.meter.createHistogram('http.client.request.duration', {
      unit: 's',
      description: 'outbound call latency',
      advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
    });
    this.meter.createObservableGauge('app.queue.depth', { description: 'requests waiting (concurrency limit or batch queue)' }).addCallback((r) => r.observe(this.waiters.length + this.queueDepthProvider()));
    this.meter.createObservableGauge('app.inflight', { description: 'requests being handled' }).addCallback((r) => r.observe(this.inflight));
    this.meter.createObservableGauge('app.config.generation', { description: 'increments on every knob change' }).addCallback((r) => r.observe(this.knobs.generation));
    this.routes = def.routes(this);
  }

  listen(port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  }

  /** Calls one instance of `peer` (round robin) with a CLIENT span and traceparent. */
  async call<T = any>(peer: string, path: string, body: unknown): Promise<T> {
    const urls = this.opts.peers[peer];
    const i = (this.rr.get(peer) ?? 0) % urls.length;
    this.rr.set(peer, i + 1);
    const url = new URL(path, urls[i]);
    const parent = context.active();
    const span = this.tracer.startSpan(
      `POST ${path}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': 'POST',
          'server.address': url.hostname,
          'server.port': Number(url.port),
          'url.full': url.toString(),
          'peer.service': peer,
        },
      },
      parent,
    );
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    propagation.inject(trace.setSpan(parent, span), headers);
    const started = performance.now();
    let outcome = 'ok';
    try {
      const timeoutMs = this.knobs.get('clientTimeoutMs');
      const res = await postJson(url, body, headers, timeoutMs);
      span.setAttribute('http.response.status_code', res.status);
      if (res.status >= 400) {
        outcome = String(res.status);
        throw new UpstreamError(`${peer} answered ${res.status}: ${res.json?.error ?? ''}`, String(res.status));
      }
      return res.json as T;
    } catch (err) {
      const e = err instanceof UpstreamError ? err : new UpstreamError(`call to ${peer} ${path} failed: ${(err as Error).message}`, errorType(err));
      if (outcome === 'ok') outcome = e.errorType;
      span.setAttribute('error.type', e.errorType);
      span.recordException(e);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      throw e;
    } finally {
      span.end();
      this.clientDuration.record((performance.now() - started) / 1000, { 'peer.service': peer, outcome });
    }
  }

  /** Runs `fn` in an INTERNAL child span of the current one (a step worth seeing in a trace). */
  async step<T>(name: string, fn: (span: Span) => Promise<T> | T, attributes?: Attributes): Promise<T> {
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, context.active());
    try {
      return await context.with(trace.setSpan(context.active(), span), () => fn(span));
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz' || url.pathname.startsWith('/admin/')) return this.admin(req, res, url);
    if (this.faults.shouldDrop()) {
      req.socket.destroy(); // loss: no answer, no server span
      return;
    }
    const delay = this.faults.delayMs();
    if (delay > 0) await sleep(delay); // delay: before the server span
    const route = `${req.method} ${url.pathname}`;
    const handler = this.routes[route];
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = this.tracer.startSpan(
      route,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method ?? 'GET',
          'url.path': url.pathname,
          'http.route': url.pathname,
          'server.port': (req.socket.localPort as number) ?? 0,
          'app.config.generation': this.knobs.generation,
        },
      },
      parent,
    );
    const started = performance.now();
    let status = 200;
    let payload: unknown;
    this.stats.requests++;
    try {
      if (!handler) {
        status = 404;
        payload = { error: `no route ${route}` };
      } else {
        const body = await readJson(req);
        await this.acquire();
        try {
          if (this.faults.shouldFail()) throw new Error(`${this.def.name}: internal error while handling ${url.pathname}`);
          payload = await context.with(trace.setSpan(parent, span), () => handler({ body, query: url.searchParams, span }));
        } finally {
          this.release();
        }
      }
    } catch (err) {
      const e = err as Error;
      status = err instanceof BadRequest ? 400 : err instanceof UpstreamError ? 502 : 500;
      payload = { error: e.message };
      if (status >= 500) {
        span.recordException(e);
        span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      }
    }
    if (status >= 500) this.stats.errors++;
    span.setAttribute('http.response.status_code', status);
    sendJson(res, status, payload);
    span.end();
    const attrs = { 'http.route': url.pathname, 'http.response.status_code': status };
    this.duration.record((performance.now() - started) / 1000, attrs);
    this.requests.add(1, attrs);
  }

  private async admin(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const route = `${req.method} ${url.pathname}`;
    try {
      switch (route) {
        case 'GET /healthz':
          return sendJson(res, 200, { ok: true, service: this.def.name, instance: this.opts.instance });
        case 'GET /admin/faults':
          return sendJson(res, 200, { active: this.faults.list() });
        case 'POST /admin/faults': {
          const started = this.faults.start(await readJson(req));
          return sendJson(res, 200, { started, active: this.faults.list() });
        }
        case 'DELETE /admin/faults':
          this.faults.clear();
          return sendJson(res, 200, { active: [] });
        case 'GET /admin/knobs':
          return sendJson(res, 200, { generation: this.knobs.generation, knobs: this.knobs.describe() });
        case 'PUT /admin/knobs': {
          const values = this.knobs.set(await readJson(req));
          return sendJson(res, 200, { generation: this.knobs.generation, values });
        }
        case 'GET /admin/stats': {
          const m = process.memoryUsage();
          return sendJson(res, 200, {
            service: this.def.name,
            instance: this.opts.instance,
            rssBytes: m.rss,
            heapUsedBytes: m.heapUsed,
            cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
            configGeneration: this.knobs.generation,
            ...this.stats,
            inflight: this.inflight,
            queueDepth: this.waiters.length + this.queueDepthProvider(),
            faults: this.faults.list(),
          });
        }
        default:
          return sendJson(res, 404, { error: `no admin route ${route}; see GET/POST/DELETE /admin/faults, GET/PUT /admin/knobs, GET /admin/stats` });
      }
    } catch (err) {
      const bad = err instanceof KnobError || err instanceof FaultError || err instanceof BadRequest;
      sendJson(res, bad ? 400 : 500, { error: (err as Error).message });
    }
  }

  private acquire(): Promise<void> {
    if (this.inflight < this.knobs.get('workerConcurrency')) {
      this.inflight++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiters.push(() => {
        this.inflight++;
        resolve();
      }),
    );
  }

  private release(): void {
    this.inflight--;
    while (this.waiters.length && this.inflight < this.knobs.get('workerConcurrency')) this.waiters.shift()!();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errorType(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return 'timeout';
  return e?.code ?? e?.name ?? 'error';
}

function readJson(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      if (chunks.length === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(new BadRequest(`body is not valid JSON: ${(err as Error).message}`));
      }
    });
  });
}

function sendJson(res: http.ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload ?? {});
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function postJson(url: URL, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; json: any }> {
  const data = JSON.stringify(body ?? {});
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent: HTTP_AGENT, headers: { ...headers, 'content-length': String(Buffer.byteLength(data)) }, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          let json: any;
          try {
            json = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Validates a request field; a bad one is the caller's fault (400), not the service's. */
export function requireString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) throw new BadRequest(`'${name}' must be a non-empty string of at most 64 characters`);
  return v;
}

export function requireArray<T = unknown>(v: unknown, name: string, max = 10_000): T[] {
  if (!Array.isArray(v) || v.length > max) throw new BadRequest(`'${name}' must be an array of at most ${max} entries`);
  return v as T[];
}
