// The orchestrator: candidates -> features -> ranking -> filtering, for one user request.
import { requireString, type ServiceDefinition } from '../lib/service';

interface Features {
  user: number[];
  items: Record<string, number[]>;
}

export const recommend: ServiceDefinition = {
  name: 'recommend',
  calls: ['candidates', 'feature-store', 'ranker', 'filter'],
  knobs: {
    rerankTopK: { min: 1, max: 500, default: 30, integer: true, help: 'how many ranked items go to the filter' },
  },
  routes: (rt) => ({
    'POST /recommend': async ({ body, span }) => {
      const user = requireString(body?.user, 'user');
      const n = typeof body?.n === 'number' ? Math.min(50, Math.max(1, body.n)) : 10;
      const cands = await rt.call<{ items: string[] }>('candidates', '/candidates', { user, surface: body?.surface, item: body?.item });
      // Two feature-store calls in parallel, one per half of the candidates (round robin spreads them over the instances).
      const half = Math.ceil(cands.items.length / 2);
      const shards = [cands.items.slice(0, half), cands.items.slice(half)];
      const parts = await Promise.all(shards.map((items) => rt.call<Features>('feature-store', '/features', { user, items })));
      const features: Features = { user: parts[0].user, items: Object.assign({}, ...parts.map((p) => p.items)) };
      const ranked = await rt.call<{ items: Array<{ id: string; score: number }> }>('ranker', '/rank', {
        user: features.user,
        items: cands.items.map((id) => ({ id, f: features.items[id] })),
      });
      const top = ranked.items.slice(0, rt.knobs.get('rerankTopK'));
      const filtered = await rt.call<{ items: string[] }>('filter', '/filter', { user, items: top.map((t) => t.id) });
      span.setAttribute('app.candidates', cands.items.length);
      return { user, items: filtered.items.slice(0, n) };
    },
  }),
};
