// Approximate nearest neighbours over item embeddings: scans a slice of the catalog.
import { embed, hash32, mulberry32 } from '../lib/random';
import { ITEMS, itemId } from '../lib/catalog';
import { BadRequest, requireString, type ServiceDefinition } from '../lib/service';

const DIM = 16;

export const embeddingIndex: ServiceDefinition = {
  name: 'embedding-index',
  calls: [],
  knobs: {
    scanItems: { min: 100, max: ITEMS, default: 2000, integer: true, help: 'catalog items scanned per query (recall vs cost)', bad: ITEMS },
  },
  routes: (rt) => {
    const vectors = new Float32Array(ITEMS * DIM);
    const rnd = mulberry32(42);
    for (let i = 0; i < vectors.length; i++) vectors[i] = rnd() * 2 - 1;
    return {
      'POST /ann': ({ body, span }) => {
        const user = requireString(body?.user, 'user');
        const k = body?.k;
        if (typeof k !== 'number' || k < 1 || k > 500) throw new BadRequest("'k' must be a number in [1, 500]");
        const q = embed(user, DIM);
        const scan = rt.knobs.get('scanItems');
        const start = hash32(user) % ITEMS;
        const best: Array<{ i: number; s: number }> = [];
        for (let j = 0; j < scan; j++) {
          const i = (start + j) % ITEMS;
          let s = 0;
          for (let d = 0; d < DIM; d++) s += q[d] * vectors[i * DIM + d];
          if (best.length < k) best.push({ i, s });
          else if (s > best[best.length - 1].s) best[best.length - 1] = { i, s };
          else continue;
          best.sort((a, b) => b.s - a.s);
        }
        span.setAttribute('app.ann.scanned', scan);
        return { items: best.map((b) => itemId(b.i + 1)) };
      },
    };
  },
};
