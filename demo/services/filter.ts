// Business rules after ranking: drop blocked items and what the user has already seen.
import { hash32 } from '../lib/random';
import { ITEMS, itemId } from '../lib/catalog';
import { requireArray, requireString, type ServiceDefinition } from '../lib/service';

export const filter: ServiceDefinition = {
  name: 'filter',
  calls: [],
  knobs: {
    blocklistSize: { min: 0, max: 200_000, default: 500, integer: true, help: 'entries in the (linearly scanned) blocklist', bad: 200_000 },
  },
  routes: (rt) => {
    let blocklist: string[] = [];
    const build = (n: number) => {
      blocklist = Array.from({ length: n }, (_, i) => itemId(((i * 7919) % (ITEMS * 10)) + ITEMS + 1)); // mostly ids outside the catalog
      blocklist.push(itemId(13));
    };
    build(rt.knobs.get('blocklistSize'));
    rt.knobs.onChange((name, v) => name === 'blocklistSize' && build(v));
    return {
      'POST /filter': ({ body }) => {
        const user = requireString(body?.user, 'user');
        const items = requireArray<string>(body?.items, 'items', 1000);
        const kept = items.filter((id) => {
          if (hash32(user + ':' + id) % 10 === 0) return false; // already seen
          for (const b of blocklist) if (b === id) return false; // the naive scan a big blocklist makes expensive
          return true;
        });
        return { items: kept };
      },
    };
  },
};
