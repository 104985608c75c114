/**
 * A bounded, time-expiring memory: `remember(key, value)` keeps an entry for `ttlMs`, and at most
 * `capacity` entries (the least recently remembered goes first). Whoever can publish on the
 * channel chooses how many distinct ids and versions a subscriber sees, so nothing the subscriber
 * remembers about messages may grow with their number: forgetting early only costs a read, which
 * the read budget bounds anyway.
 */
export class RecentMemory<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly capacity: number,
    /** Entries older than this are forgotten; Infinity keeps them until the capacity evicts them. */
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a whole number >= 0, got ${String(capacity)}`);
  }

  /** Entries held now (expired ones included until they are next looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** Remembers `value` under `key` from now on (a key remembered again moves to the newest end). */
  remember(key: string, value: V): void {
    if (this.capacity === 0 || this.ttlMs <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, at: this.now() });
    // A Map iterates in insertion order: the first key is the one remembered longest ago.
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  /** The value remembered under `key`, unless it expired (then it is forgotten). */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.at >= this.ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  clear(): void {
    this.#entries.clear();
  }
}
