/** Resolved backoff bounds (see `BackoffOptions` for the defaults). */
export interface BackoffBounds {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffBounds = { minMs: 1_000, maxMs: 60_000 };

/**
 * Delay before retry number `attempt` (1 = the first retry after one failure): "full jitter"
 * (uniform over the whole window, AWS Architecture Blog, 2015) with a floor, so a fleet that failed
 * together does not retry together, and no retry comes sooner than `minMs`.
 *
 *   window(attempt) = min(maxMs, minMs · 2^attempt)
 *   delay           = minMs + random · (window − minMs)        ∈ [minMs, maxMs]
 *
 * With the defaults: first retry within 1–2 s, then 1–4 s, 1–8 s … and never more than 60 s.
 */
export function backoffDelay(attempt: number, bounds: BackoffBounds, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1), 30);
  const window = Math.min(bounds.maxMs, bounds.minMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(bounds.minMs + r * Math.max(0, window - bounds.minMs));
}
