// Batched inference: requests queue, a batch forms up to batchSize rows-requests or after
// batchTimeoutMs, and one batch costs a + b * rows on the device, one batch at a time.
// So batch size and timeout trade throughput against latency, differently at each load.
// DEMO_MODEL_DEVICE=cpu (default): the batch is real CPU work on the event loop.
// DEMO_MODEL_DEVICE=accelerator: the batch runs on a (simulated) accelerator: the event loop
// waits for it instead of burning it, as with a GPU-served model. Latency then depends on
// the knobs and the load, not on what else the machine's CPUs are doing (the tuner benchmark).
import { context, SpanKind, trace } from '@opentelemetry/api';
import { burnCpu, mulberry32 } from '../lib/random';
import { BadRequest, requireArray, sleep, type ServiceDefinition } from '../lib/service';

const DEVICE = process.env.DEMO_MODEL_DEVICE === 'accelerator' ? 'accelerator' : 'cpu';
const [COST_BASE_MS, COST_PER_ROW_MS] = (process.env.DEMO_MODEL_COST ?? '3,0.04').split(',').map(Number);

interface Pending {
  rows: number[][];
  enqueuedAt: number; // epoch ms
  resolve(scores: number[]): void;
  ctx: ReturnType<typeof context.active>;
}

export const modelServer: ServiceDefinition = {
  name: 'model-server',
  calls: [],
  knobs: {
    batchTimeoutMs: { min: 0, max: 1000, default: 4, unit: 'ms', help: 'longest wait for a batch to fill', bad: 250 },
    batchSize: { min: 1, max: 256, default: 8, integer: true, help: 'requests per batch' },
  },
  routes: (rt) => {
    const rnd = mulberry32(7);
    const weights = Array.from({ length: 64 }, () => rnd() * 2 - 1);
    const queue: Pending[] = [];
    let timer: NodeJS.Timeout | undefined;
    let running = false;
    rt.queueDepthProvider = () => queue.length;
    const batchSizes = rt.meter.createHistogram('app.batch.size', {
      description: 'requests per inference batch',
      advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256] },
    });
    const batchRows = rt.meter.createHistogram('app.batch.rows', {
      description: 'rows per inference batch',
      advice: { explicitBucketBoundaries: [10, 25, 50, 100, 200, 400, 800, 1600] },
    });

    function schedule(): void {
      if (running || queue.length === 0) return;
      if (queue.length >= rt.knobs.get('batchSize')) {
        if (timer) clearTimeout(timer);
        timer = undefined;
        setImmediate(runBatch);
      } else if (!timer) {
        const waited = Date.now() - queue[0].enqueuedAt;
        timer = setTimeout(runBatch, Math.max(0, rt.knobs.get('batchTimeoutMs') - waited));
      }
    }

    function runBatch(): void {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (running || queue.length === 0) return;
      running = true;
      const batch = queue.splice(0, rt.knobs.get('batchSize'));
      const rows = batch.reduce((n, p) => n + p.rows.length, 0);
      const start = Date.now();
      const costMs = COST_BASE_MS + COST_PER_ROW_MS * rows; // the model's forward pass
      if (DEVICE === 'cpu') {
        burnCpu(costMs);
        finishBatch(batch, rows, start);
      } else {
        void sleep(costMs).then(() => finishBatch(batch, rows, start));
      }
    }

    function finishBatch(batch: Pending[], rows: number, start: number): void {
      const end = Date.now();
      batchSizes.record(batch.length);
      batchRows.record(rows);
      for (const p of batch) {
        const parentSpan = trace.getSpan(p.ctx);
        parentSpan?.setAttributes({ 'app.batch.size': batch.length, 'app.batch.rows': rows, 'app.queue.wait_ms': start - p.enqueuedAt });
        rt.tracer.startSpan('model.queue_wait', { kind: SpanKind.INTERNAL, startTime: p.enqueuedAt }, p.ctx).end(start);
        rt.tracer.startSpan('model.infer_batch', { kind: SpanKind.INTERNAL, startTime: start, attributes: { 'app.batch.size': batch.length } }, p.ctx).end(end);
        p.resolve(p.rows.map((r) => 1 / (1 + Math.exp(-r.reduce((s, x, i) => s + x * weights[i % weights.length], 0)))));
      }
      running = false;
      schedule();
    }

    return {
      'POST /infer': ({ body }) => {
        const rows = requireArray<number[]>(body?.rows, 'rows', 1000);
        if (!rows.every((r) => Array.isArray(r) && r.every((x) => typeof x === 'number'))) throw new BadRequest("'rows' must be arrays of numbers");
        return new Promise<{ scores: number[] }>((resolve) => {
          queue.push({ rows, enqueuedAt: Date.now(), ctx: context.active(), resolve: (scores) => resolve({ scores }) });
          schedule();
        });
      },
    };
  },
};
