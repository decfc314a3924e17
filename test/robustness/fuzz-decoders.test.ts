// Fuzz the OTLP decoders directly: thousands of malformed protobuf and JSON requests
// (mutations of valid ones from the real generated encoder, plus hostile shapes). Each must
// either decode to well-formed items or throw OtlpDecodeError naming what is wrong: never
// another exception (a stack overflow, a TypeError), never a hang.

import fc from 'fast-check';
import { OtlpDecodeError, decodeMetrics, decodeTraces } from '../../collectors/otlp/decode';
import type { MetricPoint, Span } from '../../model/telemetry';
import { JSON_MUTATIONS, PROTOBUF_MUTATIONS, type Signal, deepNestedProtobuf, mutateJson, mutateProtobuf } from './malformed';

// A decode of a body of at most a few MB must never take this long on a loaded CI machine.
const MAX_DECODE_MS = 3000;

function decode(signal: Signal, body: Uint8Array | string, encoding: 'protobuf' | 'json') {
  return signal === 'traces' ? decodeTraces(body, encoding) : decodeMetrics(body, encoding);
}

// Plain checks rather than expect(): they run for every decoded item of thousands of cases.
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`decoded item is not well-formed: ${what}`);
}

function checkSpan(s: Span): void {
  check(/^[0-9a-f]{32}$/.test(s.traceId) && /^[0-9a-f]{16}$/.test(s.spanId), `ids ${s.traceId}/${s.spanId}`);
  check(typeof s.service === 'string' && Number.isFinite(s.startMs) && s.durationMs >= 0, `span ${JSON.stringify(s)}`);
}

function checkPoint(p: MetricPoint): void {
  check(typeof p.name === 'string' && p.name.length > 0 && Number.isFinite(p.timeMs), `point ${JSON.stringify(p)}`);
}

/** Decode once; returns 'ok' or 'error' and fails the test on anything else. */
function decodeOrExplain(signal: Signal, body: Uint8Array | string, encoding: 'protobuf' | 'json', label: string): 'ok' | 'error' {
  const t0 = performance.now();
  try {
    const r = decode(signal, body, encoding);
    check(Array.isArray(r.items) && r.rejected >= 0, 'result shape');
    if (r.rejected > 0) check(typeof r.rejectionMessage === 'string' && r.rejectionMessage.length > 0, 'rejection message');
    for (const item of r.items) (signal === 'traces' ? checkSpan : checkPoint)(item as never);
    return 'ok';
  } catch (e) {
    if (!(e instanceof OtlpDecodeError)) throw new Error(`${label}: expected OtlpDecodeError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    // A message that says something (a field path or what was wrong), not just "error".
    check(e.message.length > 5, `error message "${e.message}"`);
    return 'error';
  } finally {
    const ms = performance.now() - t0;
    if (ms > MAX_DECODE_MS) throw new Error(`${label}: decode took ${ms.toFixed(0)} ms`);
  }
}

const SIGNALS: Signal[] = ['traces', 'metrics'];

describe.each(SIGNALS)('%s decoder under malformed input', (signal) => {
  test('protobuf mutations of valid requests (2,500 cases)', () => {
    const seen = { ok: 0, error: 0 };
    fc.assert(
      fc.property(fc.constantFrom(...PROTOBUF_MUTATIONS.filter((k) => k !== 'deepNesting' && k !== 'hugeString')), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (kind, seed) => {
        seen[decodeOrExplain(signal, mutateProtobuf(signal, kind, seed), 'protobuf', `${kind} seed ${seed}`)]++;
      }),
      { numRuns: 2500, seed: 20261123 },
    );
    // Most mutations must be refused, and the set must not be trivially all-errors either.
    expect(seen.error).toBeGreaterThan(500);
    expect(seen.ok).toBeGreaterThan(10);
  });

  test('JSON mutations of valid requests (1,500 cases)', () => {
    const seen = { ok: 0, error: 0 };
    fc.assert(
      fc.property(fc.constantFrom(...JSON_MUTATIONS.filter((k) => k !== 'deepNesting')), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (kind, seed) => {
        seen[decodeOrExplain(signal, mutateJson(signal, kind, seed), 'json', `${kind} seed ${seed}`)]++;
      }),
      { numRuns: 1500, seed: 20261124 },
    );
    expect(seen.error).toBeGreaterThan(300);
  });

  test('arbitrary bytes and arbitrary JSON values (1,000 cases each)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        decodeOrExplain(signal, bytes, 'protobuf', 'random bytes');
      }),
      { numRuns: 1000, seed: 1 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        decodeOrExplain(signal, JSON.stringify(value) ?? 'null', 'json', 'random JSON value');
      }),
      { numRuns: 1000, seed: 2 },
    );
  });

  test('deep nesting (up to 20,000 levels) is refused or decoded, never a stack overflow', () => {
    for (const depth of [100, 1000, 5000, 20_000]) {
      decodeOrExplain(signal, deepNestedProtobuf(signal, depth), 'protobuf', `protobuf depth ${depth}`);
      for (let seed = 1; seed <= 4; seed++) decodeOrExplain(signal, mutateJson(signal, 'deepNesting', seed * depth), 'json', `json deep seed ${seed * depth}`);
    }
  });

  test('megabyte strings decode in bounded time', () => {
    for (let seed = 1; seed <= 3; seed++) decodeOrExplain(signal, mutateProtobuf(signal, 'hugeString', seed), 'protobuf', `hugeString seed ${seed}`);
  });
});

test('truncating a valid request at every byte never escapes as a non-decode error', () => {
  for (const signal of SIGNALS) {
    const body = mutateProtobuf(signal, 'unknownFields', 7);
    for (let cut = 0; cut <= body.length; cut++) decodeOrExplain(signal, body.subarray(0, cut), 'protobuf', `${signal} cut ${cut}`);
  }
});
