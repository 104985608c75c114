/**
 * The read budget of one secret, for the reads invalidations and reconciles ask for:
 * - a refresh starts at least `refillIntervalMs` after the previous one started (the first at
 *   once). Requests arriving meanwhile merge into the one waiting request (`RefreshSlot`), so a
 *   flood costs one refresh per interval, and a genuine rotation inside it waits at most one
 *   interval;
 * - every read takes a token from a bucket holding at most `burst`, refilled continuously at one
 *   per `refillIntervalMs`: one refresh may need up to three reads at once (the version by id,
 *   AWSCURRENT, a re-read while Secrets Manager is slow to show the new label), and nothing
 *   sustains more than one read per interval.
 * Without the spacing, a flood would spend the whole burst in its first milliseconds on forged
 * messages, and a genuine rotation arriving next would wait for a refill anyway.
 * A refresh that put a new version in place was worth its read: it gives its token back and lifts
 * the spacing (`sawChange`). The budget thus bounds *wasted* reads — only a genuine rotation makes
 * a read productive — and rotations in quick succession (a roll-back right after a rotation, a
 * benchmark) are never held back by it.
 *
 * Triggers that keep applications working (start, an authentication failure, `forceRefresh`, the
 * poll, retries) neither take nor wait for tokens: they are few by construction, and holding back
 * the read that fixes a failed login would turn a flood into an outage.
 */
export class RefreshBudget {
  #tokens: number;
  #updatedAt: number;
  #lastStartAt: number | undefined;

  constructor(
    readonly burst: number,
    readonly refillIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = burst;
    this.#updatedAt = now();
  }

  /** Tokens available now (fractional while refilling). */
  get tokens(): number {
    this.refill();
    return this.#tokens;
  }

  /**
   * For a new refresh: returns 0 when it may start (its first read's token is taken), otherwise
   * takes nothing and returns the ms until it may.
   */
  startRefresh(): number {
    const now = this.now();
    if (this.#lastStartAt !== undefined) {
      // Capped: a clock that went backwards must not hold refreshes back for longer than one interval.
      const spacing = Math.min(this.#lastStartAt + this.refillIntervalMs - now, this.refillIntervalMs);
      if (spacing > 0) return Math.ceil(spacing);
    }
    const waitMs = this.take();
    if (waitMs === 0) this.#lastStartAt = now;
    return waitMs;
  }

  /** The refresh just finished put a new version in place: its token back, no spacing before the next. */
  sawChange(): void {
    this.refill();
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
    this.#lastStartAt = undefined;
  }

  /** Takes one token and returns 0, or takes nothing and returns the ms until one is there. */
  take(): number {
    this.refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    // At least 1 ms: a timer of 0 would fire before the fraction missing has been refilled.
    return Math.max(1, Math.ceil((1 - this.#tokens) * this.refillIntervalMs));
  }

  private refill(): void {
    const now = this.now();
    const elapsed = now - this.#updatedAt;
    this.#updatedAt = now;
    // A clock that went backwards refills nothing (and takes nothing away).
    if (elapsed > 0) this.#tokens = Math.min(this.burst, this.#tokens + elapsed / this.refillIntervalMs);
  }
}
