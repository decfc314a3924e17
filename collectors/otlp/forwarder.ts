// Optional pass-through: everything the receiver accepted goes on, as the same bytes, to an
// upstream OTLP/HTTP endpoint (a collector, a vendor), so faultline can sit in front of an
// existing pipeline. Asynchronous with a bounded queue: a slow or dead upstream costs at
// most maxQueueBytes of memory and shows in health(); it never slows or fails ingestion.

import type { ComponentHealth } from '../../model/component';
import type { SelfMetrics } from '../../agent/self-metrics';
import type { OtlpSignal, RawRequest } from './ingest';

export interface ForwardConfig {
  /** Base URL of an OTLP/HTTP endpoint, e.g. http://collector:4318; /v1/<signal> is appended. */
  endpoint: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  maxQueueBytes: number;
}

interface Item {
  signal: OtlpSignal;
  raw: RawRequest;
  items: number;
  firstTryMs: number;
  attempts: number;
}

/** Retry an item for at most this long (as the Collector's exporter helper does by default). */
const MAX_RETRY_ELAPSED_MS = 300_000;
const BACKOFF_INITIAL_MS = 200;
const BACKOFF_MAX_MS = 30_000;
const CONCURRENCY = 2;
/** How long after a drop or failure health stays degraded. */
const DEGRADED_HOLD_MS = 60_000;

export class OtlpForwarder {
  private readonly queue: Item[] = [];
  private queuedBytes = 0;
  private sending = 0;
  private retryTimer?: NodeJS.Timeout;
  private retryAtMs = 0;
  private stopped = false;
  private readonly inflightControllers = new Set<AbortController>();
  private lastProblem?: { message: string; atMs: number };
  private lastSuccessMs?: number;
  /** Counts for tests and health: items delivered / dropped by reason. */
  readonly stats = { sentRequests: 0, sentItems: 0, droppedItems: 0, droppedRequests: 0, retries: 0 };

  constructor(
    private readonly config: ForwardConfig,
    private readonly deps: { metrics?: SelfMetrics; log?: (msg: string) => void; now?: () => number } = {},
  ) {}

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  private url(signal: OtlpSignal): string {
    return `${this.config.endpoint.replace(/\/+$/, '')}/v1/${signal}`;
  }

  queueBytes(): number {
    return this.queuedBytes;
  }

  /** Queue a request's bytes; false (and counted as dropped) when the queue is full. */
  enqueue(signal: OtlpSignal, raw: RawRequest, items: number): boolean {
    if (this.stopped) return false;
    const size = raw.body.length;
    if (this.queuedBytes + size > this.config.maxQueueBytes) {
      this.drop(signal, items, 'queue_full', `forward queue full (${this.queuedBytes} of ${this.config.maxQueueBytes} bytes); dropped ${items} item(s)`);
      return false;
    }
    this.queue.push({ signal, raw, items, firstTryMs: this.now(), attempts: 0 });
    this.queuedBytes += size;
    this.pump();
    return true;
  }

  private drop(signal: OtlpSignal, items: number, reason: string, message: string): void {
    this.stats.droppedItems += items;
    this.stats.droppedRequests++;
    this.deps.metrics?.dropped.inc({ signal, component: 'forwarder', reason }, items);
    this.problem(message);
  }

  private problem(message: string): void {
    if (!this.lastProblem || this.now() - this.lastProblem.atMs > 10_000) this.deps.log?.(`forwarder: ${message}`);
    this.lastProblem = { message, atMs: this.now() };
  }

  private pump(): void {
    if (this.stopped || this.retryTimer) return;
    while (this.sending < CONCURRENCY && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.sending++;
      void this.send(item).finally(() => {
        this.sending--;
        this.pump();
      });
    }
  }

  private async send(item: Item): Promise<void> {
    item.attempts++;
    const controller = new AbortController();
    this.inflightControllers.add(controller);
    const timer = setTimeout(() => controller.abort(new Error(`timeout after ${this.config.timeoutMs} ms`)), this.config.timeoutMs);
    let retryAfterMs: number | undefined;
    let failure: string | undefined;
    let retryable = false;
    try {
      const headers: Record<string, string> = { ...this.config.headers, 'content-type': item.raw.contentType };
      if (item.raw.contentEncoding) headers['content-encoding'] = item.raw.contentEncoding;
      const res = await fetch(this.url(item.signal), { method: 'POST', headers, body: item.raw.body, signal: controller.signal });
      await res.arrayBuffer().catch(() => undefined); // drain so the connection is reused
      if (res.ok) {
        this.queuedBytes -= item.raw.body.length;
        this.stats.sentRequests++;
        this.stats.sentItems += item.items;
        this.lastSuccessMs = this.now();
        return;
      }
      failure = `upstream ${this.url(item.signal)} answered ${res.status}`;
      retryable = res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504;
      const ra = res.headers.get('retry-after');
      if (ra && /^\d+(\.\d+)?$/.test(ra.trim())) retryAfterMs = Number(ra) * 1000;
    } catch (e) {
      if (this.stopped) {
        failure = 'stopped';
      } else {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        failure = `upstream ${this.url(item.signal)} unreachable: ${err.cause?.code ?? err.cause?.message ?? err.message}`;
        retryable = true;
      }
    } finally {
      clearTimeout(timer);
      this.inflightControllers.delete(controller);
    }
    if (this.stopped) {
      this.drop(item.signal, item.items, 'shutdown', 'stopped with data still queued');
      return;
    }
    if (retryable && this.now() - item.firstTryMs < MAX_RETRY_ELAPSED_MS) {
      this.stats.retries++;
      this.problem(`${failure}; retrying (${this.queue.length + 1} request(s) queued)`);
      this.queue.unshift(item); // keep order: retry before newer data
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.min(item.attempts - 1, 10));
      this.scheduleRetry(Math.max(backoff * (0.8 + Math.random() * 0.4), retryAfterMs ?? 0));
      return;
    }
    this.queuedBytes -= item.raw.body.length;
    this.drop(item.signal, item.items, retryable ? 'retries_exhausted' : 'upstream_rejected', `${failure}; dropped ${item.items} item(s)`);
  }

  private scheduleRetry(delayMs: number): void {
    const at = this.now() + delayMs;
    if (this.retryTimer && at <= this.retryAtMs) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryAtMs = at;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delayMs);
    this.retryTimer.unref();
  }

  health(): ComponentHealth {
    if (this.stopped) return { component: 'forwarder', status: 'disabled', message: 'stopped' };
    const p = this.lastProblem;
    const recentProblem = p && this.now() - p.atMs < DEGRADED_HOLD_MS && !(this.lastSuccessMs && this.lastSuccessMs > p.atMs && this.queue.length === 0);
    if (recentProblem) return { component: 'forwarder', status: 'degraded', message: p.message, sinceMs: p.atMs };
    return { component: 'forwarder', status: 'ok' };
  }

  /** Wait up to graceMs for the queue to drain, then abandon what is left (counted as dropped). */
  async stop(graceMs = 2000): Promise<void> {
    const deadline = this.now() + graceMs;
    while ((this.queue.length > 0 || this.sending > 0) && !this.retryTimer && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const c of this.inflightControllers) c.abort(new Error('forwarder stopped'));
    for (const item of this.queue.splice(0)) this.drop(item.signal, item.items, 'shutdown', 'stopped with data still queued');
    this.queuedBytes = 0;
  }
}
