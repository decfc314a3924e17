// Typed-array allocation for one analysis. A million-span window needs ~40 arrays of n
// elements; allocating them afresh on every call grows V8's external memory enough to force a
// full mark-compact over the whole heap (the store's spans included: ~0.4 s per call at 1M
// spans). diagnose() therefore draws them from a pool reused across calls. The pool is held
// through a WeakRef, so an idle process gives the memory back at its next full GC.

export interface Alloc {
  i32(n: number, fill?: number): Int32Array;
  u32(n: number): Uint32Array;
  u8(n: number): Uint8Array;
  f64(n: number): Float64Array;
}

/** Fresh arrays every time (results that outlive the call must use this). */
export const freshAlloc: Alloc = {
  i32: (n, fill) => (fill ? new Int32Array(n).fill(fill) : new Int32Array(n)),
  u32: (n) => new Uint32Array(n),
  u8: (n) => new Uint8Array(n),
  f64: (n) => new Float64Array(n),
};

type Ctor<T> = { new (n: number): T };
type Typed = Int32Array | Uint32Array | Uint8Array | Float64Array;

class Slots<T extends Typed> {
  private buffers: T[] = [];
  private cursor = 0;
  constructor(private readonly ctor: Ctor<T>) {}
  reset(): void {
    this.cursor = 0;
  }
  take(n: number): T {
    let b = this.buffers[this.cursor];
    if (!b || b.length < n) {
      b = new this.ctor(Math.max(n, 1024));
      this.buffers[this.cursor] = b;
    }
    this.cursor++;
    const view = b.subarray(0, n) as T;
    view.fill(0);
    return view;
  }
}

/** Hands out zeroed views of buffers kept from earlier calls; reset() before each analysis. */
export class PoolAlloc implements Alloc {
  private readonly s32 = new Slots(Int32Array);
  private readonly su32 = new Slots(Uint32Array);
  private readonly s8 = new Slots(Uint8Array);
  private readonly s64 = new Slots(Float64Array);
  reset(): void {
    this.s32.reset();
    this.su32.reset();
    this.s8.reset();
    this.s64.reset();
  }
  i32(n: number, fill?: number): Int32Array {
    const a = this.s32.take(n);
    if (fill) a.fill(fill);
    return a;
  }
  u32(n: number): Uint32Array {
    return this.su32.take(n);
  }
  u8(n: number): Uint8Array {
    return this.s8.take(n);
  }
  f64(n: number): Float64Array {
    return this.s64.take(n);
  }
}

let poolRef: WeakRef<PoolAlloc> | undefined;

/** The shared pool, reset for a new analysis (analyses are synchronous, never interleaved). */
export function analysisPool(): PoolAlloc {
  let pool = poolRef?.deref();
  if (!pool) {
    pool = new PoolAlloc();
    poolRef = new WeakRef(pool);
  }
  pool.reset();
  return pool;
}
