// A real sidecar for API tests: the telemetry store fed from a recorded incident (through
// the same decoder live OTLP data takes), the SQLite state in a temporary data directory,
// and the fastify server from createApiServer.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { createApiServer, type ApiConfig } from '../../agent/http/server';
import { loadIncident } from '../../agent/incident/reader';
import { SelfMetrics } from '../../agent/self-metrics';
import { openStateStore, type StateStore } from '../../agent/state/index';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import { EventBus } from '../../agent/watch/events';
import type { ComponentHealth } from '../../model/component';
import type { Snapshot } from '../../model/telemetry';

export const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'incidents');
export const CPU_INCIDENT = path.join(FIXTURES, 'sim-cpu-ranker');

const loaded = new Map<string, Snapshot>();

/** The incident's telemetry, loaded once per test file. */
export async function incidentSnapshot(dir = CPU_INCIDENT): Promise<Snapshot> {
  let s = loaded.get(dir);
  if (!s) {
    s = (await loadIncident(dir, { withoutTruth: true })).snapshot;
    loaded.set(dir, s);
  }
  return s;
}

export interface Sidecar {
  app: FastifyInstance;
  store: TelemetryStore;
  state: StateStore;
  events: EventBus;
  dataDir: string;
  health: ComponentHealth[];
  close(): Promise<void>;
}

export async function startSidecar(opts: { config?: Partial<ApiConfig>; incident?: string | null; dataDir?: string } = {}): Promise<Sidecar> {
  const store = new TelemetryStore({ windowMs: Infinity });
  if (opts.incident !== null) {
    const snap = await incidentSnapshot(opts.incident ?? CPU_INCIDENT);
    store.consumeSpans(snap.spans);
    store.consumeMetrics(snap.metrics);
  }
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-api-'));
  const state = openStateStore(dataDir);
  const events = new EventBus();
  const health: ComponentHealth[] = [{ component: 'otlp-http', status: 'ok' }];
  const app = await createApiServer({
    store,
    state,
    events,
    metrics: new SelfMetrics({ defaultMetrics: false }),
    health: () => health,
    config: { bodyLimitBytes: 64 * 1024, dataDir, ...opts.config },
  });
  return {
    app,
    store,
    state,
    events,
    dataDir,
    health,
    async close() {
      await app.close();
      state.close();
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One ustar entry, written by hand so tests can build archives tar would refuse to make. */
export function tarEntry(name: string, content: string, type: '0' | '2' | '5' = '0', linkName = ''): Buffer {
  const header = Buffer.alloc(512, 0);
  const body = Buffer.from(content);
  const put = (s: string, off: number, len: number) => header.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put((type === '0' ? body.length : 0).toString(8).padStart(11, '0') + '\0', 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put(linkName, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of header) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  if (type !== '0') return header;
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512, 0);
  body.copy(padded);
  return Buffer.concat([header, padded]);
}

export function tarGz(entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024, 0)]));
}
