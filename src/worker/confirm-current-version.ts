import type { CurrentVersion } from '../secrets/index.js';

export interface ConfirmInput {
  /** Reads the secret's current version (DescribeSecret). */
  describe: () => Promise<CurrentVersion>;
  /** A read already made (the caller needed the full ARN first); counts as the first read. */
  firstRead?: CurrentVersion;
  /** The version the event names, if any: only a hint. */
  eventVersionId?: string;
  /** The version last broadcast for this secret, if any. */
  lastPublishedVersionId?: string;
  /** Total time to keep re-reading while the read looks stale. */
  windowMs: number;
  intervalMs: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface ConfirmResult {
  current: CurrentVersion;
  /** DescribeSecret calls made (1 unless the first read looked stale). */
  reads: number;
  /** True when the window ran out while the read still looked stale. */
  gaveUp: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The event's version is a hint; Secrets Manager is the truth. Events come several per rotation,
 * late, out of order, and operators roll back, so we broadcast whatever AWSCURRENT is *now*.
 *
 * One subtlety: DescribeSecret is eventually consistent right after a label moves. If it still
 * shows the version we last broadcast while the event names a different one, the read is probably
 * stale, so re-read for a short, bounded window. A genuinely stale *event* (naming a version that
 * has since been superseded) costs that window once and then ends as "unchanged".
 */
export async function confirmCurrentVersion(input: ConfirmInput): Promise<ConfirmResult> {
  const sleep = input.sleep ?? defaultSleep;
  const now = input.now ?? Date.now;
  const deadline = now() + input.windowMs;
  let reads = 0;
  let next: CurrentVersion | undefined = input.firstRead;
  for (;;) {
    const current = next ?? (await input.describe());
    next = undefined;
    reads += 1;
    const looksStale =
      input.eventVersionId !== undefined &&
      input.lastPublishedVersionId !== undefined &&
      current.versionId === input.lastPublishedVersionId &&
      current.versionId !== input.eventVersionId;
    if (!looksStale) return { current, reads, gaveUp: false };
    if (now() + input.intervalMs > deadline) return { current, reads, gaveUp: true };
    await sleep(input.intervalMs);
  }
}
