// Feature lookups: an in-process LRU cache (size, TTL knobs) in front of a slower backing store.
import { embed } from '../lib/random';
import { FEATURE_DIM, ITEMS, itemId, userId } from '../lib/catalog';
import { LruCache } from '../lib/lru';
import { requireArray, requireString, sleep, type ServiceDefinition } from '../lib/service';

/**
 * Backing-store latency: one round trip plus a per-key cost (reads are batched), over a
 * connection pool of `pool` (0: unbounded): `DEMO_STORE_COST=base,perKey[,pool]`. With a
 * bounded pool, misses queue for a connection at high load, so the cache's hit ratio matters
 * more at peak than off-peak (as with a real database behind a cache).
 */
const [STORE_BASE_MS, STORE_PER_KEY_MS, STORE_POOL = 0] = (process.env.DEMO_STORE_COST ?? '4,0.08').split(',').map(Number);

export const featureStore: ServiceDefinition = {
  name: 'feature-store',
  calls: [],
  knobs: {
    cacheTtlMs: { min: 0, max: 3_600_000, default: 300_000, integer: true, unit: 'ms', help: 'how long a cached feature row stays valid', bad: 0 },
    // Smaller than the catalogue (10 k users + 20 k items), as feature caches are: sized once,
    // when traffic was lower; at peak the misses it lets through load the backing store.
    cacheSize: { min: 0, max: 500_000, default: 5_000, integer: true, help: 'feature rows kept in the cache' },
  },
  routes: (rt) => {
    const cache = new LruCache<number[]>(rt.knobs.get('cacheSize'), rt.knobs.get('cacheTtlMs'));
    rt.knobs.onChange((name, v) => {
      if (name === 'cacheSize') cache.resize(v);
      if (name === 'cacheTtlMs') cache.setTtl(v);
    });
    const version = new Map<string, number>(); // bumped by feedback events
    let hits = 0;
    let misses = 0;
    let lastHits = 0;
    let lastMisses = 0;
    const lookups = rt.meter.createCounter('app.cache.requests', { description: 'feature cache lookups by result' });
    rt.meter.createObservableGauge('app.cache.size', { description: 'rows in the feature cache' }).addCallback((r) => r.observe(cache.size));
    rt.meter.createObservableGauge('app.cache.hit_ratio', { unit: '1', description: 'cache hit ratio since the last collection' }).addCallback((r) => {
      const h = hits - lastHits;
      const m = misses - lastMisses;
      lastHits = hits;
      lastMisses = misses;
      if (h + m > 0) r.observe(h / (h + m));
    });

    const row = (key: string) => embed(`${key}#${version.get(key) ?? 0}`, FEATURE_DIM).map((x) => Math.round(x * 1000) / 1000);

    // The pool: a read waits (inside its span) until a connection is free.
    let busy = 0;
    const waiting: Array<() => void> = [];
    async function withConnection<T>(fn: () => Promise<T>): Promise<T> {
      if (STORE_POOL > 0 && busy >= STORE_POOL) await new Promise<void>((r) => waiting.push(r)); // handed a connection
      else busy++;
      try {
        return await fn();
      } finally {
        const next = waiting.shift();
        if (next) next(); // the connection passes on, busy unchanged
        else busy--;
      }
    }

    async function readStore(keys: string[]): Promise<Map<string, number[]>> {
      return rt.step(
        'feature-store.backing.read',
        async () => {
          await withConnection(() => sleep(STORE_BASE_MS + STORE_PER_KEY_MS * keys.length));
          return new Map(keys.map((k) => [k, row(k)]));
        },
        { 'app.keys': keys.length },
      );
    }

    // Warm the cache on boot (as production feature stores do), so the first minutes of
    // traffic are not a slow cold-cache period that looks like an incident that heals itself.
    const warmAt = Date.now();
    for (let i = 1; i <= ITEMS; i++) cache.set(itemId(i), row(itemId(i)), warmAt);
    for (let u = 1; u <= 2000; u++) cache.set(userId(u), row(userId(u)), warmAt);

    return {
      'POST /features': async ({ body, span }) => {
        const user = requireString(body?.user, 'user');
        const items = requireArray<string>(body?.items, 'items', 1000);
        const keys = [user, ...items];
        const found = new Map<string, number[]>();
        const missing: string[] = [];
        for (const k of keys) {
          const v = cache.get(k);
          if (v) found.set(k, v);
          else missing.push(k);
        }
        hits += found.size;
        misses += missing.length;
        lookups.add(found.size, { result: 'hit' });
        lookups.add(missing.length, { result: 'miss' });
        span.setAttribute('app.cache.hits', found.size);
        span.setAttribute('app.cache.misses', missing.length);
        if (missing.length) {
          for (const [k, v] of await readStore(missing)) {
            found.set(k, v);
            cache.set(k, v);
          }
        }
        return { user: found.get(user), items: Object.fromEntries(items.map((i) => [i, found.get(i)])) };
      },
      'POST /features/event': async ({ body }) => {
        const user = requireString(body?.user, 'user');
        requireString(body?.item, 'item');
        await rt.step('feature-store.backing.write', () => withConnection(() => sleep(STORE_BASE_MS)));
        version.set(user, (version.get(user) ?? 0) + 1);
        cache.delete(user);
        return { ok: true };
      },
    };
  },
};
