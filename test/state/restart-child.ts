// A minimal sidecar process for the restart test: the store fed with a recorded incident,
// the state in FAULTLINE_DATA_DIR, the API on an ephemeral loopback port (printed as
// "PORT <n>" on stdout). The test kills it with SIGKILL and starts it again.

import path from 'node:path';
import { createApiServer } from '../../agent/http/server';
import { loadIncident } from '../../agent/incident/reader';
import { SelfMetrics } from '../../agent/self-metrics';
import { openStateStore, resolveDataDir } from '../../agent/state/index';
import { TelemetryStore } from '../../agent/store/telemetry-store';
import { EventBus } from '../../agent/watch/events';

async function main(): Promise<void> {
  const dataDir = resolveDataDir();
  const store = new TelemetryStore({ windowMs: Infinity });
  const { snapshot } = await loadIncident(path.join(__dirname, '..', '..', 'fixtures', 'incidents', 'sim-cpu-ranker'));
  store.consumeSpans(snapshot.spans);
  store.consumeMetrics(snapshot.metrics);
  const state = openStateStore(dataDir);
  const app = await createApiServer({ store, state, events: new EventBus(), metrics: new SelfMetrics({ defaultMetrics: false }), health: () => [], config: { bodyLimitBytes: 1 << 20, dataDir } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  process.stdout.write(`PORT ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
}

main().catch((err) => {
  process.stderr.write(`restart-child: ${err?.stack ?? err}\n`);
  process.exit(1);
});
