// Load regimes from observed traffic: log-spaced request-rate buckets (per instance) and,
// optionally, the dominant operation of the request mix. A switch needs the rate to leave
// the bucket by a hysteresis margin and the current regime to have lasted a minimum dwell,
// so a noisy minute does not flip the tuner between models.

export interface RegimeOptions {
  /** Rate buckets per decade of requests/s per instance (4 → bucket edges ×1.78 apart). */
  bucketsPerDecade: number;
  /** How far past a bucket edge (in bucket widths) the rate must go to switch. */
  hysteresis: number;
  /** Minimum time in a regime before switching. */
  minDwellMs: number;
  /** Key regimes by the dominant operation too ('operation') or by rate only ('none'). */
  mixBy: 'operation' | 'none';
}

export const DEFAULT_REGIME_OPTIONS: RegimeOptions = { bucketsPerDecade: 4, hysteresis: 0.25, minDwellMs: 5 * 60_000, mixBy: 'none' };

export interface Regime {
  key: string;
  bucket: number;
  mix: string;
  /** Centre of the bucket, requests/s per instance. */
  ratePerS: number;
}

export function bucketOf(ratePerS: number, bucketsPerDecade: number): number {
  return Math.floor(Math.log10(Math.max(ratePerS, 1e-3)) * bucketsPerDecade);
}

export function dominantMix(mix: Record<string, number>): string {
  let best = '';
  let share = 0;
  for (const [k, v] of Object.entries(mix)) if (v > share) [best, share] = [k, v];
  return share >= 0.5 ? best : 'mixed';
}

export function makeRegime(bucket: number, mix: string, opts: RegimeOptions): Regime {
  const center = Math.pow(10, (bucket + 0.5) / opts.bucketsPerDecade);
  const rounded = center >= 100 ? Math.round(center / 10) * 10 : center >= 10 ? Math.round(center) : Math.round(center * 10) / 10;
  return { key: `~${rounded}rps${opts.mixBy === 'operation' ? `/${mix}` : ''}`, bucket, mix, ratePerS: center };
}

/** Distance between regimes for transfer: rate buckets apart, plus 2 for a different mix. */
export function regimeDistance(a: Regime, b: Regime): number {
  return Math.abs(a.bucket - b.bucket) + (a.mix === b.mix ? 0 : 2);
}

export class RegimeDetector {
  private current?: Regime;
  private sinceMs = 0;

  constructor(readonly opts: RegimeOptions = DEFAULT_REGIME_OPTIONS) {}

  get regime(): Regime | undefined {
    return this.current;
  }

  get enteredAtMs(): number {
    return this.sinceMs;
  }

  /** Would this traffic leave the current regime (ignoring dwell)? Used mid-trial. */
  differs(ratePerSPerInstance: number, mix: Record<string, number>): boolean {
    if (!this.current) return false;
    const m = this.opts.mixBy === 'operation' ? dominantMix(mix) : '';
    if (m !== this.current.mix) return true;
    const pos = Math.log10(Math.max(ratePerSPerInstance, 1e-3)) * this.opts.bucketsPerDecade;
    return pos < this.current.bucket - this.opts.hysteresis || pos >= this.current.bucket + 1 + this.opts.hysteresis;
  }

  /** Feeds one window of traffic; returns the regime in force afterwards. */
  update(ratePerSPerInstance: number, mix: Record<string, number>, nowMs: number): { regime: Regime; changed: boolean } {
    const m = this.opts.mixBy === 'operation' ? dominantMix(mix) : '';
    const bucket = bucketOf(ratePerSPerInstance, this.opts.bucketsPerDecade);
    if (!this.current) {
      this.current = makeRegime(bucket, m, this.opts);
      this.sinceMs = nowMs;
      return { regime: this.current, changed: true };
    }
    if (this.differs(ratePerSPerInstance, mix) && nowMs - this.sinceMs >= this.opts.minDwellMs) {
      this.current = makeRegime(bucket, m, this.opts);
      this.sinceMs = nowMs;
      return { regime: this.current, changed: true };
    }
    return { regime: this.current, changed: false };
  }
}
