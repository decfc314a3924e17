// Candidate generation: several recall sources in parallel, merged and de-duplicated.
import { burnCpu, hash32, mulberry32, zipfSampler } from '../lib/random';
import { ITEMS, itemId } from '../lib/catalog';
import { requireString, type ServiceDefinition } from '../lib/service';

export const candidates: ServiceDefinition = {
  name: 'candidates',
  calls: ['embedding-index'],
  knobs: {
    popularK: { min: 1, max: 500, default: 30, integer: true, help: 'items from the popularity source' },
    collaborativeK: { min: 1, max: 500, default: 40, integer: true, help: 'items from the collaborative source' },
    annK: { min: 1, max: 500, default: 40, integer: true, help: 'items asked from the embedding index' },
  },
  routes: (rt) => ({
    'POST /candidates': async ({ body, span }) => {
      const user = requireString(body?.user, 'user');
      const related = typeof body?.item === 'string' ? body.item : undefined;
      const [popular, collaborative, ann] = await Promise.all([
        rt.step('recall.popular', () => popularItems(rt.knobs.get('popularK'), related)),
        rt.step('recall.collaborative', () => collaborativeItems(user, rt.knobs.get('collaborativeK'))),
        rt.call<{ items: string[] }>('embedding-index', '/ann', { user, k: rt.knobs.get('annK') }).then((r) => r.items),
      ]);
      const items = [...new Set([...ann, ...collaborative, ...popular])];
      span.setAttribute('app.candidates', items.length);
      return { items };
    },
  }),
};

function popularItems(k: number, related?: string): string[] {
  const base = related ? (hash32(related) % ITEMS) + 1 : 1;
  return Array.from({ length: k }, (_, i) => itemId(((base + i * 7 - 1) % ITEMS) + 1));
}

const zipfCache = new Map<number, () => number>();

/** "Users who liked what you liked": a per-user deterministic walk over a skewed co-occurrence table. */
function collaborativeItems(user: string, k: number): string[] {
  const rnd = mulberry32(hash32(user));
  let z = zipfCache.get(0);
  if (!z) {
    z = zipfSampler(ITEMS, 0.9, Math.random);
    zipfCache.set(0, z);
  }
  burnCpu(0.3); // scoring the co-occurrence rows
  const out = new Set<string>();
  for (let i = 0; out.size < k && i < k * 4; i++) out.add(itemId(((Math.floor(rnd() * ITEMS) + z()) % ITEMS) + 1));
  return [...out];
}
