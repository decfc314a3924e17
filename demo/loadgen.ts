// Load generator for the demo: open-loop Poisson arrivals at a chosen rate (a slow system
// does not slow the arrivals, as with real users), user ids with Zipf popularity, and a
// request mix (home feed, related items, feedback events). Reports achieved rate, error
// rate and latency percentiles, with a progress line (redrawn in place on a TTY).
//
//   npx tsx demo/loadgen.ts --url http://127.0.0.1:8080 --rate 20 --duration 60
import http from 'node:http';
import { parseArgs } from 'node:util';
import { ITEMS, USERS, itemId, userId } from './lib/catalog';
import { mulberry32, zipfSampler } from './lib/random';

export interface LoadOptions {
  /** The api-gateway's base URL. */
  url: string;
  /** Requests per second (mean of the Poisson arrivals). */
  rate: number;
  /** Seconds; undefined = until stop(). */
  durationSec?: number;
  seed?: number;
  /** Share of each request type; defaults 0.75 home, 0.2 related, 0.05 feedback. */
  mix?: { home: number; related: number; feedback: number };
  timeoutMs?: number;
  /** Progress output: 'auto' = redraw on a TTY stderr, a line every 10 s otherwise. */
  progress?: 'auto' | 'none';
}

export interface LoadSummary {
  seconds: number;
  sent: number;
  completed: number;
  errors: number;
  achievedRate: number;
  errorRate: number;
  p50Ms: number;
  p99Ms: number;
}

interface Sample {
  at: number; // completion time, epoch ms
  ms: number;
  ok: boolean;
}

export class LoadGenerator {
  private readonly samples: Sample[] = [];
  private sent = 0;
  private inflight = 0;
  private startedAt = 0;
  private timer?: NodeJS.Timeout;
  private progressTimer?: NodeJS.Timeout;
  private done?: Promise<LoadSummary>;
  private finish?: () => void;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  private readonly random: () => number;
  private readonly pickUser: () => number;
  private readonly pickItem: () => number;

  constructor(private readonly opts: LoadOptions) {
    if (!(opts.rate > 0 && opts.rate <= 10_000)) throw new Error(`rate must be in (0, 10000] requests/s; got ${opts.rate}`);
    this.random = mulberry32(opts.seed ?? 1);
    this.pickUser = zipfSampler(USERS, 1.1, this.random);
    this.pickItem = zipfSampler(ITEMS, 1.0, this.random);
  }

  /** Starts the arrivals; the promise resolves when the duration is over or stop() is called. */
  start(): Promise<LoadSummary> {
    if (this.done) return this.done;
    this.startedAt = Date.now();
    let next = performance.now();
    const tick = () => {
      const now = performance.now();
      while (next <= now) {
        this.fire();
        next += (-Math.log(1 - this.random()) * 1000) / this.opts.rate; // exponential gaps
      }
      if (this.opts.durationSec !== undefined && Date.now() - this.startedAt >= this.opts.durationSec * 1000) return void this.finish?.();
      this.timer = setTimeout(tick, Math.max(1, Math.min(20, next - performance.now())));
    };
    this.done = new Promise<LoadSummary>((resolve) => {
      this.finish = () => {
        if (this.timer) clearTimeout(this.timer);
        if (this.progressTimer) clearInterval(this.progressTimer);
        this.finish = undefined;
        // Let requests in flight complete (bounded by their timeout).
        const waitStart = Date.now();
        const drain = () => {
          if (this.inflight === 0 || Date.now() - waitStart > (this.opts.timeoutMs ?? 5000) + 500) {
            this.agent.destroy();
            if (this.showProgress() && process.stderr.isTTY) process.stderr.write('\n');
            resolve(this.summary());
          } else setTimeout(drain, 20);
        };
        drain();
      };
    });
    if (this.showProgress()) {
      const tty = process.stderr.isTTY;
      this.progressTimer = setInterval(() => {
        const line = `[load] ${formatWindow(this.summary(10_000))}  inflight ${this.inflight}`;
        process.stderr.write(tty ? `\r\x1b[2K${line}` : line + '\n');
      }, tty ? 1000 : 10_000);
      this.progressTimer.unref();
    }
    tick();
    return this.done;
  }

  stop(): Promise<LoadSummary> {
    this.finish?.();
    return this.done ?? Promise.resolve(this.summary());
  }

  /** Figures over the whole run, or over the last `windowMs`. */
  summary(windowMs?: number): LoadSummary {
    const now = Date.now();
    const from = windowMs ? Math.max(this.startedAt, now - windowMs) : this.startedAt;
    const s = this.samples.filter((x) => x.at >= from);
    const seconds = Math.max(0.001, (now - from) / 1000);
    const ok = s.filter((x) => x.ok).map((x) => x.ms).sort((a, b) => a - b);
    const errors = s.length - ok.length;
    return {
      seconds,
      sent: windowMs ? s.length : this.sent,
      completed: s.length,
      errors,
      achievedRate: s.length / seconds,
      errorRate: s.length ? errors / s.length : 0,
      p50Ms: quantile(ok, 0.5),
      p99Ms: quantile(ok, 0.99),
    };
  }

  private showProgress(): boolean {
    return (this.opts.progress ?? 'auto') === 'auto';
  }

  private fire(): void {
    const mix = this.opts.mix ?? { home: 0.75, related: 0.2, feedback: 0.05 };
    const total = mix.home + mix.related + mix.feedback;
    const u = this.random() * total;
    const user = userId(this.pickUser());
    let method = 'GET';
    let path: string;
    let body: string | undefined;
    if (u < mix.home) path = `/recommend?user=${user}&surface=home&n=10`;
    else if (u < mix.home + mix.related) path = `/recommend?user=${user}&surface=related&item=${itemId(this.pickItem())}&n=10`;
    else {
      method = 'POST';
      path = '/feedback';
      body = JSON.stringify({ user, item: itemId(this.pickItem()), action: this.random() < 0.3 ? 'click' : 'view' });
    }
    this.sent++;
    this.inflight++;
    const t0 = performance.now();
    const record = (ok: boolean) => {
      this.inflight--;
      this.samples.push({ at: Date.now(), ms: performance.now() - t0, ok });
    };
    const req = http.request(
      new URL(path, this.opts.url),
      {
        method,
        agent: this.agent,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : undefined,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
      },
      (res) => {
        res.resume();
        res.on('end', () => record((res.statusCode ?? 0) < 400));
        res.on('error', () => record(false));
      },
    );
    req.on('error', () => record(false));
    req.end(body);
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function formatWindow(s: LoadSummary): string {
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : '-');
  return `rate ${s.achievedRate.toFixed(1)}/s  errors ${(s.errorRate * 100).toFixed(1)}%  p50 ${ms(s.p50Ms)}  p99 ${ms(s.p99Ms)}`;
}

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      rate: { type: 'string', default: '20' },
      duration: { type: 'string', default: '60' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.url) throw new Error('--url http://HOST:PORT (the api-gateway) is required');
  const gen = new LoadGenerator({ url: values.url, rate: Number(values.rate), durationSec: Number(values.duration), seed: Number(values.seed) });
  process.once('SIGINT', () => void gen.stop());
  const s = await gen.start();
  if (values.json) process.stdout.write(JSON.stringify(s) + '\n');
  else process.stdout.write(`sent ${s.sent}, completed ${s.completed} in ${s.seconds.toFixed(1)} s: ${formatWindow(s)}\n`);
}

if (require.main === module) {
  cli().catch((err) => {
    process.stderr.write(`loadgen: ${(err as Error).message}\n`);
    process.exit(2);
  });
}
