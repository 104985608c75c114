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

/**
 * Could the event's version be one this read has not caught up with? Yes when the read does not
 * list it at all, or lists it as AWSPENDING (a rotation whose finishSecret the read has not seen).
 * A version listed as AWSPREVIOUS or with no label is older than the current one: the event is
 * superseded (a late delivery, a backlog after an outage), and re-reading for the whole window
 * would only stall its batch. Without the labels (an older caller), assume it may be newer.
 */
function mayBeNewer(eventVersionId: string, read: CurrentVersion): boolean {
  const labels = read.stagesByVersion?.[eventVersionId];
  return labels === undefined || labels.includes('AWSPENDING');
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The event's version is a hint; Secrets Manager is the truth. Events come several per rotation,
 * late, out of order, and operators roll back, so we broadcast whatever AWSCURRENT is *now*.
 *
 * One subtlety: DescribeSecret is eventually consistent right after a label moves. If it still
 * shows the version we last broadcast while the event names a different one that the read does
 * not know yet (or knows only as AWSPENDING), the read is probably stale, so re-read for a short,
 * bounded window. An event naming an older version (AWSPREVIOUS or unlabelled) is superseded and
 * ends at once as "unchanged". The cost of that rule: a roll-back seen through a stale read is not
 * re-read; the subscribers' poll (and MissedByEvents) covers it.
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
      current.versionId !== input.eventVersionId &&
      mayBeNewer(input.eventVersionId, current);
    if (!looksStale) return { current, reads, gaveUp: false };
    if (now() + input.intervalMs > deadline) return { current, reads, gaveUp: true };
    await sleep(input.intervalMs);
  }
}
