import type { Invalidation } from '../../protocol/index.js';

// Its own file because two parts turn a verified message into a refresh request, the live path
// (refresh-queue.ts) and the reconcile (reconcile.ts), and they must agree on what is proven.

/**
 * When the worker confirmed the invalidation's version as AWSCURRENT, if that is proven: with
 * signing keys configured every accepted message (and versions-hash entry) had its signature,
 * which covers `publishedAt`, verified. Unsigned messages prove nothing.
 */
export function confirmedAt(invalidation: Invalidation, signingKeys: readonly string[]): number | undefined {
  if (signingKeys.length === 0) return undefined;
  const publishedAt = Date.parse(invalidation.publishedAt);
  return Number.isNaN(publishedAt) ? undefined : publishedAt;
}
