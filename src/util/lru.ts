/** A least-recently-used cache bounded by the total size of its values (bytes, or any weight). */
export class LruCache<K, V> {
  private readonly map = new Map<K, { v: V; size: number }>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly sizeOf: (v: V) => number,
    private readonly onEvict?: (k: K, v: V) => void,
  ) {}

  get(k: K): V | undefined {
    const e = this.map.get(k);
    if (e === undefined) return undefined;
    this.map.delete(k);
    this.map.set(k, e);
    return e.v;
  }

  set(k: K, v: V): void {
    const old = this.map.get(k);
    if (old) {
      this.total -= old.size;
      this.map.delete(k);
    }
    const size = this.sizeOf(v);
    if (size > this.capacity) return;
    this.map.set(k, { v, size });
    this.total += size;
    for (const [key, e] of this.map) {
      if (this.total <= this.capacity) break;
      this.map.delete(key);
      this.total -= e.size;
      this.onEvict?.(key, e.v);
    }
  }

  delete(k: K): void {
    const e = this.map.get(k);
    if (e === undefined) return;
    this.map.delete(k);
    this.total -= e.size;
  }

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.total;
  }

  clear(): void {
    if (this.onEvict) for (const [k, e] of this.map) this.onEvict(k, e.v);
    this.map.clear();
    this.total = 0;
  }
}
