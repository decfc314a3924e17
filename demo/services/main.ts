// One demo service process. Configured by environment, so the orchestrator (or a person)
// can start any number of copies on any ports:
//   DEMO_SERVICE=model-server DEMO_INSTANCE=model-server-1 DEMO_PORT=0 \
//   DEMO_PEERS='{}' OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node -r tsx/cjs demo/services/main.ts
// Prints one line `DEMO_READY {"service":..,"instance":..,"port":N}` on stdout once listening.
import { startTelemetry } from '../lib/telemetry';
import { ServiceRuntime } from '../lib/service';
import { hash32 } from '../lib/random';
import { SERVICES } from './index';

async function main(): Promise<void> {
  const name = process.env.DEMO_SERVICE ?? '';
  const def = SERVICES[name];
  if (!def) throw new Error(`DEMO_SERVICE must be one of ${Object.keys(SERVICES).join(', ')}; got '${name}'`);
  const instance = process.env.DEMO_INSTANCE || `${name}-1`;
  const port = Number(process.env.DEMO_PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`DEMO_PORT must be a port number; got '${process.env.DEMO_PORT}'`);
  let peers: Record<string, string[]>;
  try {
    peers = JSON.parse(process.env.DEMO_PEERS || '{}');
  } catch (err) {
    throw new Error(`DEMO_PEERS is not valid JSON: ${(err as Error).message}`);
  }
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://127.0.0.1:4318';
  const telemetry = startTelemetry({ service: name, instance, endpoint, metricIntervalMs: Number(process.env.DEMO_METRIC_INTERVAL_MS || 5000) });
  const seed = Number(process.env.DEMO_SEED || 1) ^ hash32(instance);
  const rt = new ServiceRuntime(def, { service: name, instance, peers, telemetry, seed });
  const server = await rt.listen(port);
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  process.stdout.write(`DEMO_READY ${JSON.stringify({ service: name, instance, port: actual, pid: process.pid })}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    rt.faults.clear();
    server.close();
    server.closeAllConnections();
    // Flush what is buffered, but never hang on an unreachable collector.
    await Promise.race([telemetry.shutdown().catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The orchestrator's stdin closes when it dies: do not outlive it.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

main().catch((err) => {
  process.stderr.write(`demo service failed: ${(err as Error).message}\n`);
  process.exit(1);
});
