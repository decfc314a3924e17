import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { SelfMetrics } from '../../agent/self-metrics';
import { createPrometheusScraper, defaultPrometheusScrapeConfig, type PrometheusScrapeConfig } from '../../collectors/prometheus';
import type { ConsumeResult, TelemetrySink } from '../../model/sink';
import type { MetricPoint, Span } from '../../model/telemetry';

class CollectingSink implements TelemetrySink {
  points: MetricPoint[] = [];
  consumeSpans(spans: Span[]): ConsumeResult {
    return { ok: true, accepted: spans.length, rejected: 0 };
  }
  consumeMetrics(points: MetricPoint[]): ConsumeResult {
    this.points.push(...points);
    return { ok: true, accepted: points.length, rejected: 0 };
  }
}

interface Target {
  server: Server;
  url: string;
  close(): Promise<void>;
  lastAccept?: string;
}

async function startTarget(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Target> {
  const sockets = new Set<Socket>();
  const t: Partial<Target> = {};
  const server = createServer((req, res) => {
    t.lastAccept = req.headers.accept;
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  t.server = server;
  t.url = `http://127.0.0.1:${port}/metrics`;
  t.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return t as Target;
}

describe('Prometheus scraper against live targets on loopback', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  const config = (targets: PrometheusScrapeConfig['targets'], over: Partial<PrometheusScrapeConfig> = {}): PrometheusScrapeConfig => ({
    ...defaultPrometheusScrapeConfig(),
    targets,
    timeoutMs: 2000,
    ...over,
  });

  it('scrapes a prom-client registry, attributes series to the target and records up/duration', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 'rank_requests_total', help: 'h', labelNames: ['code'], registers: [registry] });
    const latency = new Histogram({ name: 'rank_latency_seconds', help: 'h', buckets: [0.05, 0.1], registers: [registry] });
    requests.inc({ code: '200' }, 7);
    latency.observe(0.07);
    const target = await startTarget(async (_req, res) => {
      res.setHeader('Content-Type', registry.contentType);
      res.end(await registry.metrics());
    });
    cleanups.push(target.close);

    const sink = new CollectingSink();
    const metrics = new SelfMetrics({ defaultMetrics: false });
    const port = new URL(target.url).port;
    const scraper = createPrometheusScraper(config([{ url: target.url, service: 'ranker', labels: { env: 'test' } }]), sink, { metrics });
    cleanups.push(() => scraper.stop());
    await scraper.scrapeOnce();

    expect(target.lastAccept).toBe('text/plain;version=0.0.4');
    const counter = sink.points.find((p) => p.name === 'rank_requests_total');
    expect(counter).toMatchObject({ kind: 'counter', value: 7, service: 'ranker', instance: `127.0.0.1:${port}`, host: '127.0.0.1', labels: { code: '200', env: 'test' } });
    expect(sink.points.find((p) => p.name === 'rank_latency_seconds')).toMatchObject({ kind: 'histogram', count: 1, bucketCounts: [0, 1, 0] });
    const up = sink.points.find((p) => p.name === 'up');
    expect(up).toMatchObject({ value: 1, kind: 'gauge', service: 'ranker', labels: { env: 'test' } });
    const dur = sink.points.find((p) => p.name === 'scrape_duration_seconds');
    expect(dur?.value).toBeGreaterThan(0);
    expect(dur!.value).toBeLessThan(2);
    expect(scraper.health()).toEqual([expect.objectContaining({ component: `prometheus:ranker/127.0.0.1:${port}`, status: 'ok' })]);
    const received = (await metrics.received.get()).values.find((v) => v.labels.receiver === 'prometheus');
    expect(received?.value).toBe(sink.points.length);

    // Counters are cumulative as sent: a second scrape sees the new total.
    requests.inc({ code: '200' }, 3);
    sink.points = [];
    await scraper.scrapeOnce();
    expect(sink.points.find((p) => p.name === 'rank_requests_total')?.value).toBe(10);
  });

  it('marks only the failing targets degraded: refused, timeout, HTTP 500, garbage, too large', async () => {
    const good = await startTarget((_req, res) => res.end('# TYPE ok gauge\nok 1\n'));
    const slow = await startTarget(() => undefined); // never answers
    const err = await startTarget((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const garbage = await startTarget((_req, res) => res.end('<html><body>{"not": "metrics"}</body></html>\n'));
    const big = await startTarget((_req, res) => res.end('m 1\n'.repeat(10_000)));
    const closed = await startTarget((_req, res) => res.end());
    const closedUrl = closed.url;
    await closed.close();
    for (const t of [good, slow, err, garbage, big]) cleanups.push(t.close);

    const sink = new CollectingSink();
    const scraper = createPrometheusScraper(
      config(
        [
          { url: good.url, service: 'good' },
          { url: slow.url, service: 'slow' },
          { url: err.url, service: 'err' },
          { url: garbage.url, service: 'garbage' },
          { url: big.url, service: 'big' },
          { url: closedUrl, service: 'closed' },
        ],
        { timeoutMs: 300, maxBodyBytes: 1000 },
      ),
      sink,
    );
    cleanups.push(() => scraper.stop());
    await scraper.scrapeOnce();

    const byService = Object.fromEntries(scraper.health().map((h) => [h.component.split(':')[1].split('/')[0], h]));
    expect(byService.good.status).toBe('ok');
    expect(byService.slow).toMatchObject({ status: 'degraded', message: expect.stringMatching(/timed out after 300 ms/) });
    expect(byService.err).toMatchObject({ status: 'degraded', message: expect.stringMatching(/HTTP 500/) });
    expect(byService.garbage).toMatchObject({ status: 'degraded', message: expect.stringMatching(/no valid sample: 1 malformed line\(s\) skipped \(line 1:/) });
    expect(byService.big).toMatchObject({ status: 'degraded', message: expect.stringMatching(/exceeds maxBodyBytes 1000/) });
    expect(byService.closed).toMatchObject({ status: 'degraded', message: expect.stringMatching(/ECONNREFUSED/) });

    const ups = Object.fromEntries(sink.points.filter((p) => p.name === 'up').map((p) => [p.service, p.value]));
    expect(ups).toEqual({ good: 1, slow: 0, err: 0, garbage: 0, big: 0, closed: 0 });
    expect(sink.points.filter((p) => p.name !== 'up' && p.name !== 'scrape_duration_seconds' && p.name !== 'scrape_samples_scraped').map((p) => p.service)).toEqual(['good']);
  });

  it('keeps the good lines of a partly malformed scrape and names the bad ones in health', async () => {
    const t = await startTarget((_req, res) => res.end('# TYPE a gauge\na 1\na{x="oops} 2\nb 3\n'));
    cleanups.push(t.close);
    const sink = new CollectingSink();
    const metrics = new SelfMetrics({ defaultMetrics: false });
    const scraper = createPrometheusScraper(config([{ url: t.url, service: 'partial', instance: 'p-1' }]), sink, { metrics });
    await scraper.scrapeOnce();
    expect(sink.points.filter((p) => p.name === 'a' || p.name === 'b').map((p) => p.value)).toEqual([1, 3]);
    expect(sink.points.find((p) => p.name === 'up')).toMatchObject({ value: 1, instance: 'p-1' });
    expect(scraper.health()[0]).toMatchObject({ component: 'prometheus:partial/p-1', status: 'degraded', message: expect.stringMatching(/line 3: unterminated/) });
    const malformed = (await metrics.rejected.get()).values.find((v) => v.labels.reason === 'malformed');
    expect(malformed?.value).toBe(1);
  });

  it('scrapes on its interval after start() and stops cleanly', async () => {
    let hits = 0;
    const t = await startTarget((_req, res) => {
      hits++;
      res.end(`hits ${hits}\n`);
    });
    cleanups.push(t.close);
    const sink = new CollectingSink();
    const scraper = createPrometheusScraper(config([{ url: t.url, service: 's' }], { intervalMs: 50 }), sink);
    await scraper.start();
    await new Promise((r) => setTimeout(r, 300));
    await scraper.stop();
    const after = hits;
    expect(after).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 150));
    expect(hits).toBe(after);
  });

  it('survives a sink that throws: the target is marked degraded, nothing escapes', async () => {
    const t = await startTarget((_req, res) => res.end('a 1\n'));
    cleanups.push(t.close);
    const throwing: TelemetrySink = {
      consumeSpans: () => ({ ok: true, accepted: 0, rejected: 0 }),
      consumeMetrics: () => {
        throw new Error('store exploded');
      },
    };
    const scraper = createPrometheusScraper(config([{ url: t.url, service: 's' }]), throwing);
    await expect(scraper.scrapeOnce()).resolves.toBeUndefined();
    expect(scraper.health()[0]).toMatchObject({ status: 'degraded', message: 'delivering scraped points failed: store exploded' });
  });

  it('rejects a bad target config with a message naming it', () => {
    const sink = new CollectingSink();
    expect(() => createPrometheusScraper(config([{ url: 'not a url', service: 's' }]), sink)).toThrow(/"not a url": not a valid URL/);
    expect(() => createPrometheusScraper(config([{ url: 'http://x:1/metrics', service: '' }]), sink)).toThrow(/service is required/);
    expect(createPrometheusScraper(config([]), sink).health()).toEqual([{ component: 'prometheus', status: 'disabled', message: 'no scrape targets configured' }]);
  });
});
