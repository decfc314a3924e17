import { bucketedStats, buildServiceGraph, selfTimes } from '../../analyzers';
import { CLIENT, INTERNAL, call, span, T0 } from './helpers';
import type { Span } from '../../model/telemetry';

describe('selfTimes', () => {
  it('subtracts the union of children, counting overlaps once and clipping to the parent', () => {
    const root = span({ traceId: 't1', service: 'a', name: 'root', start: T0, duration: 100 });
    const c1 = span({ traceId: 't1', parent: root, service: 'a', name: 'c1', kind: INTERNAL, start: T0 + 10, duration: 30 }); // 10..40
    const c2 = span({ traceId: 't1', parent: root, service: 'a', name: 'c2', kind: INTERNAL, start: T0 + 30, duration: 30 }); // 30..60, overlaps c1
    const c3 = span({ traceId: 't1', parent: root, service: 'a', name: 'c3', kind: INTERNAL, start: T0 + 70, duration: 10 }); // 70..80
    const c4 = span({ traceId: 't1', parent: root, service: 'b', name: 'async', kind: INTERNAL, start: T0 + 90, duration: 30 }); // 90..120, sticks out
    const grandChild = span({ traceId: 't1', parent: c1, service: 'a', name: 'g', kind: INTERNAL, start: T0 + 12, duration: 5 });
    // Children arrive out of order: the result must not depend on it.
    const self = selfTimes([c3, root, grandChild, c2, c4, c1]);
    expect(self[1]).toBeCloseTo(100 - (50 + 10 + 10), 9); // root: union 10..60, 70..80, 90..100
    expect(self[5]).toBeCloseTo(30 - 5, 9); // c1 minus its grandchild
    expect(self[0]).toBeCloseTo(10, 9); // leaf: its duration
    expect(self[4]).toBeCloseTo(30, 9);
  });

  it('handles fully parallel children and a child covering the parent', () => {
    const p = span({ traceId: 't2', service: 'a', name: 'p', start: T0, duration: 50 });
    const kids = [0, 1, 2, 3].map(() => span({ traceId: 't2', parent: p, service: 'b', name: 'k', kind: CLIENT, start: T0 + 5, duration: 20 }));
    expect(selfTimes([p, ...kids])[0]).toBeCloseTo(30, 9);
    const q = span({ traceId: 't3', service: 'a', name: 'q', start: T0, duration: 50 });
    const big = span({ traceId: 't3', parent: q, service: 'a', name: 'big', kind: INTERNAL, start: T0 - 10, duration: 100 });
    expect(selfTimes([q, big])[0]).toBe(0);
  });

  it('links parents within the same trace only, even when span ids repeat across traces', () => {
    const a1 = { ...span({ traceId: 'trace-a', service: 'a', name: 'r', start: T0, duration: 10 }), spanId: 'same' };
    const b1 = { ...span({ traceId: 'trace-b', service: 'a', name: 'r', start: T0, duration: 10 }), spanId: 'same' };
    const childOfB = { ...span({ traceId: 'trace-b', service: 'a', name: 'c', kind: INTERNAL, start: T0 + 1, duration: 8 }), parentSpanId: 'same' };
    const self = selfTimes([a1, b1, childOfB]);
    expect(self[0]).toBe(10); // a1 has no children
    expect(self[1]).toBeCloseTo(2, 9);
  });
});

describe('buildServiceGraph', () => {
  it('pairs client and server spans into edges with the network gap, and makes virtual nodes for uninstrumented peers', () => {
    const spans: Span[] = [];
    for (let i = 0; i < 10; i++) {
      const t = `tr${i}`;
      const start = T0 + i * 1000;
      const root = span({ traceId: t, service: 'frontend', name: 'GET /', start, duration: 40, instance: 'frontend-1', host: 'node-a' });
      spans.push(root);
      call(spans, t, root, 'ranking', start + 1, 20, 4, { serverError: i === 0, error: i === 0 });
      spans.push(span({ traceId: t, parent: root, service: 'frontend', name: 'GET cache', kind: CLIENT, start: start + 30, duration: 2, attributes: { 'db.system': 'redis', 'server.address': 'cache-1' } }));
      spans.push(span({ traceId: t, parent: root, service: 'frontend', name: 'SELECT', kind: CLIENT, start: start + 33, duration: 3, attributes: { 'peer.service': 'postgres', 'db.system': 'postgresql' } }));
    }
    const g = buildServiceGraph(spans, T0, T0 + 10_000);
    const names = g.nodes.map((n) => n.service);
    expect(names).toEqual(['cache-1', 'frontend', 'postgres', 'ranking']);
    expect(g.nodes.find((n) => n.service === 'cache-1')!.virtual).toBe(true);
    expect(g.nodes.find((n) => n.service === 'ranking')!.virtual).toBe(false);
    expect(g.nodes.find((n) => n.service === 'frontend')!.hosts).toEqual(['node-a']);
    const edge = g.edges.find((e) => e.from === 'frontend' && e.to === 'ranking')!;
    expect(edge.stats.calls).toBe(10);
    expect(edge.stats.errors).toBe(1);
    expect(edge.stats.errorRate).toBeCloseTo(0.1);
    expect(edge.meanGapMs).toBeCloseTo(4, 6);
    expect(edge.unpaired).toBe(0);
    expect(edge.stats.p50Ms).toBeCloseTo(24, 6);
    const cache = g.edges.find((e) => e.to === 'cache-1')!;
    expect(cache.unpaired).toBe(10);
    expect(cache.meanGapMs).toBeUndefined();
    expect(g.edges.find((e) => e.to === 'postgres')!.stats.p50Ms).toBeCloseTo(3, 6);
    const ranking = g.nodes.find((n) => n.service === 'ranking')!;
    expect(ranking.stats.calls).toBe(10);
    expect(ranking.stats.ratePerSec).toBeCloseTo(1, 6);
  });

  it('keeps only spans that start inside the window', () => {
    const spans: Span[] = [];
    for (let i = 0; i < 4; i++) spans.push(span({ traceId: `w${i}`, service: 'a', name: 'x', start: T0 + i * 1000, duration: 5 }));
    const g = buildServiceGraph(spans, T0 + 1000, T0 + 3000);
    expect(g.nodes[0].stats.calls).toBe(2);
  });
});

describe('bucketedStats', () => {
  it('gives per-operation and per-edge rate, errors and latency per time bucket', () => {
    const spans: Span[] = [];
    for (let i = 0; i < 20; i++) {
      const t = `b${i}`;
      const start = T0 + i * 1000; // 20 s, one request a second
      const root = span({ traceId: t, service: 'frontend', name: 'GET /', start, duration: 50 });
      spans.push(root);
      call(spans, t, root, 'ranking', start + 1, i < 10 ? 10 : 30, 2, { serverError: i >= 15 });
    }
    const b = bucketedStats(spans, T0, T0 + 20_000, 10_000);
    const rank = b.operations.find((o) => o.service === 'ranking' && o.operation === 'handle ranking')!;
    expect(rank.buckets.map((x) => x.calls)).toEqual([10, 10]);
    expect(rank.buckets.map((x) => x.errors)).toEqual([0, 5]);
    expect(rank.buckets[0].p50Ms).toBeCloseTo(10, 6);
    expect(rank.buckets[1].p50Ms).toBeCloseTo(30, 6);
    const edge = b.edges.find((e) => e.from === 'frontend' && e.to === 'ranking')!;
    expect(edge.buckets[1].p95Ms).toBeCloseTo(32, 6);
    const root = b.operations.find((o) => o.operation === 'GET /')!;
    expect(root.buckets[0].meanSelfMs).toBeCloseTo(50 - 12, 6);
    expect(() => bucketedStats(spans, T0, T0 + 1, 0)).toThrow(/bucketMs/);
  });
});
