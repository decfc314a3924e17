// Starts the demo recommendation system: one process per service instance, downstream
// services first so each process is told its peers' real (possibly ephemeral) ports.
import path from 'node:path';
import fs from 'node:fs';
import { SERVICES } from './services/index';
import { spawnChild, stopChild, waitForLine, type Child } from './lib/processes';
import { requestJson } from './lib/http-json';
import type { FaultRequest } from './lib/faults';

/** Instances per service. Two of the hot ones, so a fault on one instance is distinguishable. */
export const DEFAULT_TOPOLOGY: Record<string, number> = {
  'api-gateway': 1,
  recommend: 1,
  candidates: 1,
  'embedding-index': 1,
  'feature-store': 2,
  ranker: 1,
  'model-server': 2,
  filter: 1,
};

export interface DemoOptions {
  /** OTLP/HTTP base URL the services export to. */
  otlpEndpoint: string;
  /** 0 (default): every service on an ephemeral port; N: ports N, N+1, ... in start order. */
  basePort?: number;
  topology?: Record<string, number>;
  seed?: number;
  metricIntervalMs?: number;
  /** Folder for one log file per instance; none: keep only the last lines in memory. */
  logDir?: string;
  startTimeoutMs?: number;
  /** Extra environment for every service process (e.g. DEMO_MODEL_DEVICE, DEMO_MODEL_COST, DEMO_STORE_COST). */
  env?: Record<string, string>;
}

export interface DemoInstance {
  service: string;
  instance: string;
  url: string;
  port: number;
  pid: number;
}

export interface DemoSystem {
  instances: DemoInstance[];
  gatewayUrl: string;
  /** 'model-server' (first instance), 'model-server:2' or 'model-server:model-server-2'. */
  find(target: string): DemoInstance;
  injectFault(target: string, fault: FaultRequest): Promise<unknown>;
  clearFaults(target?: string): Promise<void>;
  stop(): Promise<void>;
}

const MAIN = path.join(__dirname, 'services', 'main.ts');

export async function startDemo(opts: DemoOptions): Promise<DemoSystem> {
  const topology = opts.topology ?? DEFAULT_TOPOLOGY;
  for (const name of Object.keys(topology)) if (!SERVICES[name]) throw new Error(`unknown service '${name}' in the topology`);
  const waves = startOrder(topology);
  const children: Child[] = [];
  const instances: DemoInstance[] = [];
  const addresses: Record<string, string[]> = {};
  let nextPort = opts.basePort ?? 0;
  if (opts.logDir) fs.mkdirSync(opts.logDir, { recursive: true });
  const tsx = require.resolve('tsx/cjs');
  try {
    for (const wave of waves) {
      const started = wave.flatMap((service) =>
        Array.from({ length: topology[service] }, (_, k) => {
          const instance = `${service}-${k + 1}`;
          const port = nextPort ? nextPort++ : 0;
          const peers = Object.fromEntries(SERVICES[service].calls.map((c) => [c, addresses[c]]));
          const child = spawnChild({
            name: instance,
            args: ['--expose-gc', '-r', tsx, MAIN],
            logFile: opts.logDir ? path.join(opts.logDir, `${instance}.log`) : undefined,
            env: {
              DEMO_SERVICE: service,
              DEMO_INSTANCE: instance,
              DEMO_PORT: String(port),
              DEMO_PEERS: JSON.stringify(peers),
              DEMO_SEED: String(opts.seed ?? 1),
              DEMO_METRIC_INTERVAL_MS: String(opts.metricIntervalMs ?? 5000),
              OTEL_EXPORTER_OTLP_ENDPOINT: opts.otlpEndpoint,
              OTEL_BSP_SCHEDULE_DELAY: '1000',
              OTEL_BSP_MAX_QUEUE_SIZE: '16384',
              OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
              OTEL_LOG_LEVEL: 'error',
              ...opts.env,
            },
          });
          children.push(child);
          return waitForLine<{ port: number; pid: number }>(child, 'DEMO_READY ', opts.startTimeoutMs ?? 60_000).then((r) => ({
            service,
            instance,
            port: r.port,
            pid: r.pid,
            url: `http://127.0.0.1:${r.port}`,
          }));
        }),
      );
      const ready = await Promise.all(started);
      for (const inst of ready) {
        instances.push(inst);
        (addresses[inst.service] ??= []).push(inst.url);
      }
    }
  } catch (err) {
    await Promise.all(children.map((c) => stopChild(c, 2000)));
    throw err;
  }

  const find = (target: string): DemoInstance => {
    const [service, which] = target.split(':');
    const of = instances.filter((i) => i.service === service);
    if (of.length === 0) throw new Error(`no service '${service}'; services: ${Object.keys(topology).join(', ')}`);
    if (!which) return of[0];
    const hit = of.find((i) => i.instance === which || i.instance === `${service}-${which}`);
    if (!hit) throw new Error(`no instance '${which}' of ${service}; instances: ${of.map((i) => i.instance).join(', ')}`);
    return hit;
  };

  return {
    instances,
    gatewayUrl: instances.find((i) => i.service === 'api-gateway')?.url ?? '',
    find,
    injectFault: (target, fault) => requestJson('POST', `${find(target).url}/admin/faults`, fault),
    clearFaults: async (target) => {
      const list = target ? [find(target)] : instances;
      await Promise.all(list.map((i) => requestJson('DELETE', `${i.url}/admin/faults`).catch(() => undefined)));
    },
    stop: async () => {
      await Promise.all(children.map((c) => stopChild(c)));
    },
  };
}

/** Waves of services whose downstreams are all in earlier waves. */
export function startOrder(topology: Record<string, number>): string[][] {
  const remaining = new Set(Object.keys(topology));
  const done = new Set<string>();
  const waves: string[][] = [];
  while (remaining.size) {
    const wave = [...remaining].filter((s) => SERVICES[s].calls.every((c) => done.has(c)));
    if (wave.length === 0) {
      const missing = [...remaining].flatMap((s) => SERVICES[s].calls.filter((c) => !topology[c]).map((c) => `${s} -> ${c}`));
      throw new Error(`topology cannot start: ${missing.length ? 'missing ' + missing.join(', ') : 'a call cycle'}`);
    }
    for (const s of wave) {
      remaining.delete(s);
      done.add(s);
    }
    waves.push(wave);
  }
  return waves;
}
