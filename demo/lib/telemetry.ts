// OpenTelemetry setup for one demo service process: traces and metrics over OTLP/HTTP
// to whatever OTEL_EXPORTER_OTLP_ENDPOINT names (faultline's receiver in the demo),
// plus the process metrics an SRE would look at (CPU, memory, GC, event-loop lag).

import os from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';

export interface TelemetryOptions {
  service: string;
  instance: string;
  /** OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 ('/v1/traces' and '/v1/metrics' are appended). */
  endpoint: string;
  metricIntervalMs: number;
}

export interface Telemetry {
  tracer: Tracer;
  meter: Meter;
  shutdown(): Promise<void>;
}

export function startTelemetry(opts: TelemetryOptions): Telemetry {
  const base = opts.endpoint.replace(/\/+$/, '');
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': opts.service,
      'service.instance.id': opts.instance,
      'host.name': os.hostname(),
      'process.pid': process.pid,
    }),
    autoDetectResources: false,
    instrumentations: [], // manual spans only, so faults can be placed precisely
    traceExporter: new OTLPTraceExporter({ url: `${base}/v1/traces`, timeoutMillis: 5000 }),
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, timeoutMillis: 5000 }),
        exportIntervalMillis: opts.metricIntervalMs,
        exportTimeoutMillis: Math.min(5000, opts.metricIntervalMs),
      }),
    ],
  });
  sdk.start();
  const meter = metrics.getMeter('demo-recsys');
  registerProcessMetrics(meter);
  return {
    tracer: trace.getTracer('demo-recsys'),
    meter,
    shutdown: () => sdk.shutdown(),
  };
}

function registerProcessMetrics(meter: Meter): void {
  const cpus = os.availableParallelism();
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  const cpuTime = meter.createObservableCounter('process.cpu.time', { unit: 's', description: 'CPU time of this process' });
  cpuTime.addCallback((r) => {
    const u = process.cpuUsage();
    r.observe(u.user / 1e6, { 'cpu.mode': 'user' });
    r.observe(u.system / 1e6, { 'cpu.mode': 'system' });
  });
  const cpuUtil = meter.createObservableGauge('process.cpu.utilization', {
    unit: '1',
    description: 'CPU time since the last collection / elapsed time / available CPUs',
  });
  cpuUtil.addCallback((r) => {
    const now = performance.now();
    const u = process.cpuUsage(lastCpu);
    const elapsedMs = now - lastAt;
    lastCpu = process.cpuUsage();
    lastAt = now;
    if (elapsedMs > 0) r.observe((u.user + u.system) / 1000 / elapsedMs / cpus);
  });
  meter.createObservableGauge('process.memory.usage', { unit: 'By', description: 'resident set size' }).addCallback((r) => r.observe(process.memoryUsage.rss()));
  const heap = meter.createObservableGauge('v8js.memory.heap.used', { unit: 'By', description: 'V8 heap in use' });
  const heapLimit = meter.createObservableGauge('v8js.memory.heap.limit', { unit: 'By', description: 'V8 heap allocated' });
  heap.addCallback((r) => r.observe(process.memoryUsage().heapUsed));
  heapLimit.addCallback((r) => r.observe(process.memoryUsage().heapTotal));

  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const lagP99 = meter.createObservableGauge('nodejs.eventloop.delay.p99', { unit: 's', description: 'event-loop delay p99 since the last collection' });
  const lagMean = meter.createObservableGauge('nodejs.eventloop.delay.mean', { unit: 's', description: 'event-loop delay mean since the last collection' });
  meter.addBatchObservableCallback(
    (r) => {
      if (lag.count > 0) {
        r.observe(lagP99, lag.percentile(99) / 1e9);
        r.observe(lagMean, lag.mean / 1e9);
      }
      lag.reset();
    },
    [lagP99, lagMean],
  );

  const gc = meter.createHistogram('v8js.gc.duration', {
    unit: 's',
    description: 'garbage collection pauses',
    advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] },
  });
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      gc.record(e.duration / 1000, { 'v8js.gc.type': kind === 4 || kind === 1 ? (kind === 4 ? 'major' : 'minor') : 'other' });
    }
  });
  obs.observe({ entryTypes: ['gc'] });
}
