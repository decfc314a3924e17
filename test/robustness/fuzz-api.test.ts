// Fuzz every route of a running `faultline serve` API (taken from its own OpenAPI document):
// random bytes, wrong and hostile JSON, deep nesting, huge bodies, bad gzip and junk in path
// parameters and query strings. Every request must be answered in time with a 2xx or a 4xx
// carrying a message (never a 5xx, never a hang), and the sidecar must stay alive and ready.

import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { type SidecarProcess, spawnSidecar } from '../../bench/lib/processes';
import { rng } from '../otlp/oracle';

jest.setTimeout(120_000);

const CASES = 1200;
const PARALLEL = 6;
let sc: SidecarProcess;
let routes: Array<{ path: string; method: string }>;

beforeAll(async () => {
  sc = await spawnSidecar({ configYaml: 'detection: { autoRecord: false }\n' });
  const doc = (await (await fetch(`${sc.api}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  routes = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => ({ path: p, method: m.toUpperCase() })));
});

afterAll(async () => {
  await sc?.stop();
});

const JUNK_SEGMENTS = ['x', '..', '%2e%2e', '%00', 'a'.repeat(3000), '🙂', '%ff', "'; DROP TABLE incidents;--", '../../etc/passwd', 'inc-1', 'dg-1', '-1', '1e400'];
const JUNK_QUERY = ['limit=-1', 'limit=1e9', 'limit=abc', 'cursor=%ff%fe', 'cursor=' + 'A'.repeat(5000), 'since=NaN', 'until=-1e308', 'lastMinutes=0', 'lastMinutes=1e12', 'fromMs=5&toMs=1', 'diagnosisId[]=1', 'status=open&status=x', '__proto__[x]=1', 'x=' + '%'.repeat(10)];
const WEIRD_JSON: unknown[] = [null, 0, -1, 1e308, '', 'x', [], {}, { lastMinutes: -5 }, { lastMinutes: 1e15 }, { fromMs: 'yesterday', toMs: {} }, { id: '../../x', lastMinutes: 1 }, { id: 'a'.repeat(10_000), lastMinutes: 1 }, { truth: { service: 7 } }, { __proto__: { admin: true } }, { maxCauses: -1 }, { constructor: { prototype: { x: 1 } } }];

function bodyFor(seed: number): { body?: Buffer | string; headers: Record<string, string>; label: string } {
  const r = rng(seed);
  switch (r.int(0, 7)) {
    case 0:
      return { body: r.bytes(r.int(1, 2000)), headers: { 'content-type': r.pick(['application/json', 'application/octet-stream', 'application/gzip', 'text/plain']) }, label: 'random bytes' };
    case 1:
      return { body: JSON.stringify(r.pick(WEIRD_JSON)), headers: { 'content-type': 'application/json' }, label: 'weird JSON' };
    case 2: {
      const depth = r.int(1000, 100_000);
      return { body: '['.repeat(depth) + ']'.repeat(depth), headers: { 'content-type': 'application/json' }, label: `nesting ${depth}` };
    }
    case 3:
      return { body: Buffer.alloc(r.int(2, 20) * 1024 * 1024, 0x20), headers: { 'content-type': 'application/json' }, label: 'huge body' };
    case 4:
      return { body: zlib.gzipSync(Buffer.from('not a tar')).subarray(0, r.int(5, 20)), headers: { 'content-type': 'application/gzip', 'content-encoding': r.pick(['gzip', 'identity']) }, label: 'bad gzip' };
    case 5:
      return { body: '{"lastMinutes": 1, "id": "inc-' + seed + '"', headers: { 'content-type': 'application/json' }, label: 'truncated JSON' };
    case 6:
      return { body: JSON.stringify({ lastMinutes: 1 }), headers: { 'content-type': r.pick(['application/json; charset=utf-16', 'multipart/form-data', '', 'application/x-www-form-urlencoded']) }, label: 'wrong content type' };
    default:
      return { headers: {}, label: 'no body' };
  }
}

test(`${CASES} hostile requests across every API route are answered with 2xx/4xx`, async () => {
  expect(routes.length).toBeGreaterThanOrEqual(10);
  const statuses = new Map<number, number>();
  const seeds = fc.sample(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { numRuns: CASES, seed: 8 });
  for (let i = 0; i < seeds.length; i += PARALLEL) {
    await Promise.all(
      seeds.slice(i, i + PARALLEL).map(async (seed) => {
        const r = rng(seed);
        const route = r.pick(routes);
        if (route.path === '/api/v1/events') return; // an SSE stream: never ends by design
        const path = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(r.pick(JUNK_SEGMENTS)).replace(/%25/g, '%'));
        const query = r.next() < 0.5 ? `?${r.pick(JUNK_QUERY)}` : '';
        const b = route.method === 'GET' && r.next() < 0.7 ? { headers: {}, label: 'plain GET' } : bodyFor(seed);
        const label = `${route.method} ${path.slice(0, 80)}${query.slice(0, 40)} (${b.label}, seed ${seed})`;
        let res: Response;
        try {
          res = await fetch(`${sc.api}${path}${query}`, { method: route.method, headers: b.headers, body: route.method === 'GET' ? undefined : b.body, signal: AbortSignal.timeout(15_000) });
        } catch (e) {
          // A huge body may be cut off by the server after it answered 413; that is fine.
          if (b.label === 'huge body') return;
          throw new Error(`${label}: ${(e as Error).message}`);
        }
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) throw new Error(`${label}: ${res.status} ${text.slice(0, 300)}`);
        if (res.status >= 400 && text.length < 10) throw new Error(`${label}: ${res.status} without a message`);
      }),
    );
  }
  process.stdout.write(`fuzz-api: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}\n`);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(CASES / 10);
  // Still alive and ready.
  expect((await fetch(`${sc.api}/healthz`)).status).toBe(200);
  expect((await fetch(`${sc.api}/readyz`)).status).toBe(200);
});
