// The OTLP receiver as one component: OTLP/HTTP on 4318, OTLP/gRPC on 4317, an optional
// forwarder, all writing to one TelemetrySink. `faultline serve` calls createOtlpReceiver.

import type { AddressInfo } from 'node:net';
import type { Component, ComponentHealth } from '../../model/component';
import type { TelemetrySink } from '../../model/sink';
import type { SelfMetrics } from '../../agent/self-metrics';
import { OtlpForwarder } from './forwarder';
import { bindGrpc, buildOtlpGrpcServer, shutdownGrpc } from './grpc-receiver';
import { buildOtlpHttpServer } from './http-receiver';
import { IngestCore } from './ingest';

export { OtlpDecodeError, decodeMetrics, decodeTraces, countLogRecords } from './decode';
export type { DecodeResult, OtlpEncoding } from './decode';
export { OtlpForwarder } from './forwarder';
export type { ForwardConfig } from './forwarder';

const MiB = 1024 * 1024;

export interface OtlpReceiverConfig {
  http: { enabled: boolean; host: string; port: number; maxBodyBytes: number };
  grpc: { enabled: boolean; host: string; port: number; maxMessageBytes: number };
  limits: { memorySoftLimitBytes: number; maxInflightBytes: number; retryAfterSeconds: number };
  forward?: { endpoint: string; headers?: Record<string, string>; timeoutMs: number; maxQueueBytes: number };
}

export function defaultOtlpReceiverConfig(): OtlpReceiverConfig {
  return {
    http: { enabled: true, host: '127.0.0.1', port: 4318, maxBodyBytes: 8 * MiB },
    grpc: { enabled: true, host: '127.0.0.1', port: 4317, maxMessageBytes: 8 * MiB },
    // The store bounds itself (it evicts at its budget); the soft limit must sit above that
    // budget and catches surges of in-flight requests on top of it.
    limits: { memorySoftLimitBytes: 512 * MiB, maxInflightBytes: 64 * MiB, retryAfterSeconds: 5 },
  };
}

export type OtlpReceiver = Component & { addresses(): { http?: string; grpc?: string } };

function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function createOtlpReceiver(
  config: OtlpReceiverConfig,
  sink: TelemetrySink,
  deps: { metrics?: SelfMetrics; memoryUsedBytes?: () => number; reclaimMemory?: () => boolean; log?: (msg: string) => void } = {},
): OtlpReceiver {
  const log = deps.log ?? (() => {});
  const forwarder = config.forward ? new OtlpForwarder(config.forward, { metrics: deps.metrics, log }) : undefined;
  const core = new IngestCore(sink, config.limits, { metrics: deps.metrics, memoryUsedBytes: deps.memoryUsedBytes, reclaimMemory: deps.reclaimMemory, forwarder });
  const http = config.http.enabled ? buildOtlpHttpServer(core, config.http, log) : undefined;
  const grpc = config.grpc.enabled ? buildOtlpGrpcServer(core, config.grpc) : undefined;
  const bound: { http?: string; grpc?: string } = {};
  const state: Record<'otlp-http' | 'otlp-grpc', ComponentHealth> = {
    'otlp-http': { component: 'otlp-http', status: config.http.enabled ? 'failed' : 'disabled', message: config.http.enabled ? 'not started' : undefined },
    'otlp-grpc': { component: 'otlp-grpc', status: config.grpc.enabled ? 'failed' : 'disabled', message: config.grpc.enabled ? 'not started' : undefined },
  };

  function up(name: 'otlp-http' | 'otlp-grpc', status: ComponentHealth['status'], message?: string): void {
    state[name] = { component: name, status, message, sinceMs: Date.now() };
    deps.metrics?.componentUp.set({ component: name }, status === 'ok' ? 1 : 0);
  }

  return {
    async start() {
      if (http) {
        try {
          await http.listen({ host: config.http.host, port: config.http.port });
          const a = http.server.address() as AddressInfo;
          bound.http = httpUrl(config.http.host, a.port);
          up('otlp-http', 'ok');
          log(`otlp-http listening on ${bound.http}`);
        } catch (e) {
          up('otlp-http', 'failed', `cannot listen on ${config.http.host}:${config.http.port}: ${(e as Error).message}`);
          throw new Error(`OTLP/HTTP receiver: cannot listen on ${config.http.host}:${config.http.port}: ${(e as Error).message}`);
        }
      }
      if (grpc) {
        try {
          const port = await bindGrpc(grpc, config.grpc.host, config.grpc.port);
          bound.grpc = `${config.grpc.host.includes(':') ? `[${config.grpc.host}]` : config.grpc.host}:${port}`;
          up('otlp-grpc', 'ok');
          log(`otlp-grpc listening on ${bound.grpc}`);
        } catch (e) {
          up('otlp-grpc', 'failed', `cannot listen on ${config.grpc.host}:${config.grpc.port}: ${(e as Error).message}`);
          if (http) await http.close();
          throw new Error(`OTLP/gRPC receiver: cannot listen on ${config.grpc.host}:${config.grpc.port}: ${(e as Error).message}`);
        }
      }
    },

    async stop() {
      await Promise.all([
        http ? http.close().then(() => up('otlp-http', 'disabled', 'stopped')) : undefined,
        grpc ? shutdownGrpc(grpc).then(() => up('otlp-grpc', 'disabled', 'stopped')) : undefined,
      ]);
      await forwarder?.stop();
    },

    health() {
      const out = [state['otlp-http'], state['otlp-grpc']];
      if (forwarder) {
        const h = forwarder.health();
        deps.metrics?.componentUp.set({ component: 'forwarder' }, h.status === 'ok' ? 1 : 0);
        out.push(h);
      }
      return out;
    },

    addresses() {
      return { ...bound };
    },
  };
}
