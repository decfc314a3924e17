// A minimal OTLP/HTTP receiver for the demo tests: accepts OTLP/JSON (what
// exporter-*-otlp-http sends) on /v1/traces and /v1/metrics and keeps counts per service.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkSpan {
  service: string;
  instance?: string;
  name: string;
  kind: number;
  statusCode: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startMs: number;
  endMs: number;
}

export interface OtlpSink {
  url: string;
  spans: SinkSpan[];
  metricNames: Map<string, Set<string>>; // service -> metric names
  close(): Promise<void>;
}

function attr(attrs: any[] | undefined, key: string): string | undefined {
  const a = attrs?.find((x) => x.key === key);
  return a?.value?.stringValue;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const spans: SinkSpan[] = [];
  const metricNames = new Map<string, Set<string>>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (req.url === '/v1/traces') {
          for (const rs of body.resourceSpans ?? []) {
            const service = attr(rs.resource?.attributes, 'service.name') ?? '?';
            const instance = attr(rs.resource?.attributes, 'service.instance.id');
            for (const ss of rs.scopeSpans ?? [])
              for (const s of ss.spans ?? [])
                spans.push({ service, instance, name: s.name, kind: s.kind, statusCode: s.status?.code ?? 0, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, startMs: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000, endMs: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000 });
          }
        } else if (req.url === '/v1/metrics') {
          for (const rm of body.resourceMetrics ?? []) {
            const service = attr(rm.resource?.attributes, 'service.name') ?? '?';
            const set = metricNames.get(service) ?? new Set<string>();
            metricNames.set(service, set);
            for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) set.add(m.name);
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"bad OTLP/JSON"}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    metricNames,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
