// A small LRU cache with a time-to-live, built on Map's insertion order.

export class LruCache<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private capacity: number,
    private ttlMs: number,
  ) {}

  resize(capacity: number): void {
    this.capacity = capacity;
    this.evict();
  }

  setTtl(ttlMs: number): void {
    this.ttlMs = ttlMs;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string, now = Date.now()): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (e.expiresAt <= now) return undefined;
    this.map.set(key, e); // most recently used last
    return e.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    if (this.capacity <= 0 || this.ttlMs <= 0) return;
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: now + this.ttlMs });
    this.evict();
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  private evict(): void {
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
}
