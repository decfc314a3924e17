// The sidecar process: builds every part from the config and wires them one way
// (collectors -> store -> watcher/analyzers -> state -> API). Each optional part that fails
// to start degrades only itself and shows in /readyz and the self-metrics.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { createHostCollector, defaultHostCollectorConfig } from '../collectors/host';
import { createOtlpReceiver, defaultOtlpReceiverConfig } from '../collectors/otlp';
import { createPrometheusScraper, defaultPrometheusScrapeConfig } from '../collectors/prometheus';
import { JsonlAuditSink } from '../tuner/audit';
import { TunerConfigError, parseTunerConfig } from '../tuner/config';
import { TunerService, createApplier } from '../tuner/service';
import type { Component, ComponentHealth } from '../model/component';
import { ConfigError, MiB, type FaultlineConfig } from './config';
import { tunerRoutes } from './http/tuner-routes';
import { createApiServer } from './http/server';
import { SelfMetrics } from './self-metrics';
import { openStateStore } from './state';
import { TelemetryStore } from './store/telemetry-store';
import { EventBus } from './watch/events';
import { createWatcher } from './watch';

export interface RunningSidecar {
  addresses: { api: string; otlpHttp?: string; otlpGrpc?: string };
  store: TelemetryStore;
  stop(): Promise<void>;
}

export interface ServeOptions {
  log?: (msg: string) => void;
  /** Write the bound addresses as JSON here once listening (tests, the demo). */
  readyFile?: string;
}

export async function startSidecar(config: FaultlineConfig, opts: ServeOptions = {}): Promise<RunningSidecar> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`faultline: ${m}\n`));
  fs.mkdirSync(config.dataDir, { recursive: true });

  const metrics = new SelfMetrics();
  const store = new TelemetryStore({ windowMs: config.store.windowMinutes * 60_000, budgetBytes: config.store.budgetMiB * MiB });
  const state = openStateStore(config.dataDir);
  const events = new EventBus();

  const otlpConfig = defaultOtlpReceiverConfig();
  otlpConfig.http = { enabled: config.otlp.http.enabled, host: config.otlp.http.host, port: config.otlp.http.port, maxBodyBytes: config.otlp.http.maxBodyMiB * MiB };
  otlpConfig.grpc = { enabled: config.otlp.grpc.enabled, host: config.otlp.grpc.host, port: config.otlp.grpc.port, maxMessageBytes: config.otlp.grpc.maxMessageMiB * MiB };
  otlpConfig.limits = {
    memorySoftLimitBytes: config.otlp.memorySoftLimitMiB * MiB,
    maxInflightBytes: config.otlp.maxInflightMiB * MiB,
    retryAfterSeconds: config.otlp.retryAfterSeconds,
  };
  if (config.otlp.forward) {
    otlpConfig.forward = {
      endpoint: config.otlp.forward.endpoint,
      headers: config.otlp.forward.headers,
      timeoutMs: config.otlp.forward.timeoutMs,
      maxQueueBytes: config.otlp.forward.maxQueueMiB * MiB,
    };
  }
  // Heap + buffers, not RSS: Node rarely returns RSS to the system, so an RSS limit once
  // crossed would refuse data forever; heap falls again after a collection.
  const receiver = createOtlpReceiver(otlpConfig, store, { metrics, memoryUsedBytes: heapInUse, reclaimMemory: reclaimHeap, log });

  const components: Array<{ name: string; part: Component; required: boolean }> = [{ name: 'otlp', part: receiver, required: true }];

  if (config.prometheus.targets.length > 0) {
    const promConfig = defaultPrometheusScrapeConfig();
    promConfig.targets = config.prometheus.targets;
    promConfig.intervalMs = config.prometheus.intervalSeconds * 1000;
    promConfig.timeoutMs = config.prometheus.timeoutSeconds * 1000;
    components.push({ name: 'prometheus', part: createPrometheusScraper(promConfig, store, { metrics }), required: false });
  }
  if (config.host.enabled) {
    const hostConfig = defaultHostCollectorConfig();
    hostConfig.enabled = true;
    hostConfig.intervalMs = config.host.intervalSeconds * 1000;
    hostConfig.procRoot = config.host.procRoot;
    hostConfig.cgroupRoot = config.host.cgroupRoot;
    hostConfig.perf.enabled = config.host.perf;
    components.push({ name: 'host', part: createHostCollector(hostConfig, store, { metrics }), required: false });
  }
  const watcher = createWatcher({
    store,
    state,
    events,
    dataDir: config.dataDir,
    config: {
      intervalMs: config.detection.intervalSeconds * 1000,
      windowMs: config.detection.windowMinutes * 60_000,
      cooldownMs: config.detection.cooldownSeconds * 1000,
      autoRecord: config.detection.autoRecord,
      maxDiagnosisSpans: config.detection.maxDiagnosisSpans,
    },
  });
  components.push({ name: 'watcher', part: watcher, required: false });

  // The tuner changes services, so it only exists when configured; observe mode by default.
  let tuner: TunerService | undefined;
  let tunerAudit: JsonlAuditSink | undefined;
  if (config.tuner !== undefined) {
    let tunerConfig;
    try {
      tunerConfig = parseTunerConfig(config.tuner);
    } catch (err) {
      state.close();
      if (err instanceof TunerConfigError) throw new ConfigError(`invalid configuration: ${err.message}`);
      throw err;
    }
    tunerAudit = new JsonlAuditSink(path.join(config.dataDir, 'tuner-audit.jsonl'));
    const t = new TunerService({ config: tunerConfig, telemetry: store, applier: createApplier(tunerConfig.applier), audit: tunerAudit });
    tuner = t;
    components.push({
      name: 'tuner',
      required: false,
      part: {
        start: async () => t.start(),
        stop: async () => {
          t.stop();
          tunerAudit?.close();
        },
        health: () => [{ component: 'tuner', status: 'ok' }],
      },
    });
  }

  // The optional LLM step (POST /api/v1/diagnoses {"llm": true}): a broken endpoint shows
  // here and in faultline_llm_steps_total, and only the explanation is lost.
  const llm = require('../llm') as typeof import('../llm');
  const llmConfig = llm.llmConfigFromAgent(config.llm);
  const llmAccount = new llm.LlmAccount(llmConfig);
  components.push({ name: 'llm', required: false, part: { start: async () => undefined, stop: async () => undefined, health: () => llmAccount.health() } });
  const onLlmStep = (record: unknown) => {
    const outcome = llmAccount.record(record);
    if (outcome) metrics.llmSteps.inc({ outcome });
    const tokens = (record as { usage?: { totalTokens?: number } } | undefined)?.usage?.totalTokens ?? 0;
    if (tokens > 0) metrics.llmTokens.inc(tokens);
  };

  const failedToStart: ComponentHealth[] = [];
  const health = (): ComponentHealth[] => {
    const all = [...failedToStart];
    for (const c of components) all.push(...c.part.health());
    for (const h of all) metrics.componentUp.set({ component: h.component }, h.status === 'ok' || h.status === 'disabled' ? 1 : 0);
    return all;
  };

  const api = await createApiServer({
    store,
    state,
    events,
    metrics,
    health,
    config: {
      token: config.api.token,
      requireTokenForReads: config.api.requireTokenForReads,
      bodyLimitBytes: config.api.bodyLimitMiB * MiB,
      dataDir: config.dataDir,
      maxDiagnosisSpans: config.detection.maxDiagnosisSpans,
    },
    llm: llmConfig,
    onLlmStep,
  });

  // Mutating tuner routes are guarded by the API's own auth hook (token or loopback-only).
  if (tuner) await api.register(tunerRoutes, { tuner, requireToken: async () => undefined });

  const started: Component[] = [];
  const stopAll = async () => {
    await api.close().catch(() => undefined);
    for (const c of started.reverse()) await c.stop().catch(() => undefined);
    state.close();
  };
  try {
    for (const c of components) {
      try {
        await c.part.start();
        started.push(c.part);
      } catch (err) {
        if (c.required) throw err;
        failedToStart.push({ component: c.name, status: 'failed', required: false, message: (err as Error).message, sinceMs: Date.now() });
        log(`${c.name} did not start: ${(err as Error).message}`);
      }
    }
    await api.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    await stopAll();
    throw err;
  }

  const apiAddr = api.server.address();
  const apiUrl = typeof apiAddr === 'object' && apiAddr ? `http://${hostForUrl(apiAddr.address)}:${apiAddr.port}` : String(apiAddr);
  const recv = receiver.addresses();
  const addresses = { api: apiUrl, otlpHttp: recv.http, otlpGrpc: recv.grpc };
  if (opts.readyFile) {
    fs.mkdirSync(path.dirname(path.resolve(opts.readyFile)), { recursive: true });
    // Written whole then renamed, so a reader never sees half a file.
    const tmp = `${opts.readyFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(addresses));
    fs.renameSync(tmp, opts.readyFile);
  }
  return { addresses, store, stop: stopAll };
}

// What the receiver's memory limit counts: V8 heap in use (live data and garbage not yet
// collected) plus external buffers.
function heapInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

// Like the OTel Collector's memory_limiter: before refusing, force a collection (at most once
// a second), since refused requests allocate too little to trigger one and the limiter would
// otherwise stay shut after the load is gone. Returns whether it ran.
let forceGc: (() => void) | undefined;
let lastForcedGcMs = 0;
function reclaimHeap(): boolean {
  if (Date.now() - lastForcedGcMs < 1000) return false;
  if (!forceGc) {
    v8.setFlagsFromString('--expose-gc');
    forceGc = vm.runInNewContext('gc') as () => void;
  }
  lastForcedGcMs = Date.now();
  forceGc();
  return true;
}

function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
