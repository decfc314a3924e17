// OTLP/HTTP load generator, meant to run as its own process (so its CPU is not the
// sidecar's): sends protobuf trace requests at a fixed span rate (or as fast as the
// receiver answers), and prints one JSON line per interval with what happened.
//
//   npx tsx bench/load-otlp.ts --url http://127.0.0.1:4318 --rate 10000 --seconds 60
//   options: --spans-per-request 100  --concurrency 32  --interval-ms 1000  --rate 0 (= flat out)
//            --timeout-ms 10000  --pool N (re-send N pre-encoded requests: a cheaper generator)
//
// Output lines: {"t":s,"sentSpans","okSpans","requests","ok","r429","r503","otherStatus",
// "errors","retryAfter":[...distinct],"p50Ms","p99Ms","maxMs","behind"} and a final {"done":true,...}.

import * as http from 'node:http';
import { encodeTraceRequest } from './lib/otlp-traffic';

export interface LoadOptions {
  url: string;
  /** Spans per second; 0 = as fast as `concurrency` requests in flight allow. */
  rate: number;
  seconds: number;
  spansPerRequest: number;
  concurrency: number;
  intervalMs: number;
  timeoutMs: number;
  /** Re-send this many pre-encoded requests in turn (0 = encode each request fresh). A pool
   *  makes the generator cheap enough to overload the receiver; ids then repeat. */
  pool?: number;
}

export interface LoadInterval {
  t: number;
  requests: number;
  sentSpans: number;
  okSpans: number;
  ok: number;
  r429: number;
  r503: number;
  otherStatus: number;
  errors: number;
  retryAfter: string[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Requests that were due but not sent because `concurrency` were already in flight. */
  behind: number;
  /** 429/503 answers without a Retry-After header (OTLP clients then use their own backoff). */
  shedWithoutRetryAfter: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function emptyInterval(t: number): LoadInterval {
  return { t, requests: 0, sentSpans: 0, okSpans: 0, ok: 0, r429: 0, r503: 0, otherStatus: 0, errors: 0, retryAfter: [], p50Ms: 0, p99Ms: 0, maxMs: 0, behind: 0, shedWithoutRetryAfter: 0 };
}

/** Run the load; calls onInterval every intervalMs; resolves with the totals. */
export async function runLoad(opts: LoadOptions, onInterval: (i: LoadInterval) => void = () => {}): Promise<LoadInterval> {
  const target = new URL('/v1/traces', opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const started = Date.now();
  const endAt = started + opts.seconds * 1000;
  let cur = emptyInterval(0);
  let latencies: number[] = [];
  const total = emptyInterval(0);
  const allLatencies: number[] = [];
  const retryAfter = new Set<string>();
  let inflight = 0;
  let issuedSpans = 0;
  const pool = Array.from({ length: opts.pool ?? 0 }, () => encodeTraceRequest({ spansPerRequest: opts.spansPerRequest }));
  let next = 0;

  const send = () => {
    const { body, spans } = pool.length > 0 ? pool[next++ % pool.length] : encodeTraceRequest({ spansPerRequest: opts.spansPerRequest });
    inflight++;
    issuedSpans += spans;
    cur.requests++;
    cur.sentSpans += spans;
    const t0 = performance.now();
    const req = http.request(
      target,
      { method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length }, timeout: opts.timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => {
          const ms = performance.now() - t0;
          latencies.push(ms);
          inflight--;
          const s = res.statusCode ?? 0;
          if (s === 200) {
            cur.ok++;
            cur.okSpans += spans;
          } else if (s === 429) cur.r429++;
          else if (s === 503) cur.r503++;
          else cur.otherStatus++;
          const ra = res.headers['retry-after'];
          if (ra) retryAfter.add(String(ra));
          else if (s === 429 || s === 503) cur.shedWithoutRetryAfter++;
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      inflight--;
      cur.errors++;
    });
    req.end(body);
  };

  const flush = (t: number) => {
    latencies.sort((a, b) => a - b);
    cur.p50Ms = +quantile(latencies, 0.5).toFixed(2);
    cur.p99Ms = +quantile(latencies, 0.99).toFixed(2);
    cur.maxMs = +(latencies[latencies.length - 1] ?? 0).toFixed(2);
    cur.retryAfter = [...retryAfter];
    cur.t = +(t / 1000).toFixed(1);
    for (const k of ['requests', 'sentSpans', 'okSpans', 'ok', 'r429', 'r503', 'otherStatus', 'errors', 'behind', 'shedWithoutRetryAfter'] as const) total[k] += cur[k];
    allLatencies.push(...latencies);
    onInterval(cur);
    cur = emptyInterval(0);
    latencies = [];
  };

  let nextFlush = started + opts.intervalMs;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = Date.now();
      if (now >= nextFlush) {
        flush(now - started);
        nextFlush += opts.intervalMs;
      }
      if (now >= endAt) {
        clearInterval(timer);
        resolve();
        return;
      }
      if (opts.rate > 0) {
        const dueSpans = (opts.rate * (now - started)) / 1000;
        while (issuedSpans + opts.spansPerRequest <= dueSpans + opts.spansPerRequest / 2) {
          if (inflight >= opts.concurrency) {
            // Skip what we could not send, so a slow receiver does not get a burst later.
            const skipped = Math.ceil((dueSpans - issuedSpans) / opts.spansPerRequest);
            cur.behind += skipped;
            issuedSpans += skipped * opts.spansPerRequest;
            break;
          }
          send();
        }
      } else {
        while (inflight < opts.concurrency) send();
      }
    };
    const timer = setInterval(tick, 5);
  });
  // Let in-flight requests finish (bounded by their timeout).
  const drainUntil = Date.now() + opts.timeoutMs;
  while (inflight > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  flush(Date.now() - started);
  agent.destroy();
  allLatencies.sort((a, b) => a - b);
  total.p50Ms = +quantile(allLatencies, 0.5).toFixed(2);
  total.p99Ms = +quantile(allLatencies, 0.99).toFixed(2);
  total.maxMs = +(allLatencies[allLatencies.length - 1] ?? 0).toFixed(2);
  total.retryAfter = [...retryAfter];
  total.t = +((Date.now() - started) / 1000).toFixed(1);
  return total;
}

export function parseLoadArgs(argv: string[]): LoadOptions {
  const get = (name: string, dflt?: string): string => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
    if (dflt === undefined) throw new Error(`missing --${name}`);
    return dflt;
  };
  const num = (name: string, dflt: string) => {
    const v = Number(get(name, dflt));
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a non-negative number: ${get(name, dflt)}`);
    return v;
  };
  return {
    url: get('url'),
    rate: num('rate', '10000'),
    seconds: num('seconds', '10'),
    spansPerRequest: num('spans-per-request', '100'),
    concurrency: num('concurrency', '32'),
    intervalMs: num('interval-ms', '1000'),
    timeoutMs: num('timeout-ms', '10000'),
    pool: num('pool', '0'),
  };
}

if (require.main === module) {
  let opts: LoadOptions;
  try {
    opts = parseLoadArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`load-otlp: ${(e as Error).message}\n`);
    process.exit(2);
  }
  runLoad(opts, (i) => process.stdout.write(JSON.stringify(i) + '\n')).then((t) => {
    process.stdout.write(JSON.stringify({ done: true, ...t }) + '\n');
  });
}
