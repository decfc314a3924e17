// How long a change needs before a window measures it. A knob's effect is not always
// immediate: a resized cache fills at the rate of its misses, and a shorter TTL only bites
// once the entries written under the old one expire (a 300 s -> 11 s change measured 5 s later
// read 14 ms on the demo's feature store, 27 ms once the old entries were gone; docs/tuner.md).
// Measured too early, the tuner credits a later trial with the earlier change's effect.

import type { TunerConfig } from './config';
import type { Config } from './space';

/** A knob's settle fields, as configured (tuner/config.ts). */
export type KnobSettle = Pick<TunerConfig['knobs'][number], 'name' | 'settleMs' | 'ttlUnitMs' | 'maxSettleMs'>;

const DEFAULT_MAX_TTL_SETTLE_MS = 600_000;

/** The wait after changing `from` -> `to`: the longest of `baseMs` and each changed knob's settle. */
export function settleAfterChange(knobs: readonly KnobSettle[], from: Config, to: Config, baseMs: number): number {
  let ms = baseMs;
  for (const k of knobs) {
    const a = from[k.name];
    const b = to[k.name];
    if (b === undefined || a === b) continue;
    ms = Math.max(ms, k.settleMs ?? 0);
    if (k.ttlUnitMs !== undefined) {
      const longest = Math.max(Number(a ?? 0), Number(b)) * k.ttlUnitMs;
      if (Number.isFinite(longest)) ms = Math.max(ms, Math.min(k.maxSettleMs ?? DEFAULT_MAX_TTL_SETTLE_MS, longest));
    }
  }
  return ms;
}
