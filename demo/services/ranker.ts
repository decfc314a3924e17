// Ranking: splits the candidates into chunks and scores them on the model servers in parallel.
import { requireArray, BadRequest, type ServiceDefinition } from '../lib/service';

export const ranker: ServiceDefinition = {
  name: 'ranker',
  calls: ['model-server'],
  knobs: {
    chunkSize: { min: 1, max: 500, default: 25, integer: true, help: 'items per inference call' },
  },
  routes: (rt) => ({
    'POST /rank': async ({ body, span }) => {
      const user = requireArray<number>(body?.user, 'user', 64);
      const items = requireArray<{ id: string; f: number[] }>(body?.items, 'items', 2000);
      const rows: number[][] = items.map((it) => {
        if (!it || typeof it.id !== 'string' || !Array.isArray(it.f)) throw new BadRequest("each item must be {id, f: number[]}");
        return [...user, ...it.f, ...user.map((u, d) => u * (it.f[d] ?? 0))]; // user, item and crossed features
      });
      const size = rt.knobs.get('chunkSize');
      const chunks: number[][][] = [];
      for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
      span.setAttribute('app.chunks', chunks.length);
      const scored = await Promise.all(chunks.map((c) => rt.call<{ scores: number[] }>('model-server', '/infer', { rows: c })));
      const scores = scored.flatMap((s) => s.scores);
      const ranked = items.map((it, i) => ({ id: it.id, score: scores[i] })).sort((a, b) => b.score - a.score);
      return { items: ranked };
    },
  }),
};
