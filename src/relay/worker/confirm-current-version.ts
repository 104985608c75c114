import type { CurrentVersion } from '../../secrets/index.js';

export interface ConfirmInput {
  /** Reads the secret's current version (DescribeSecret). */
  describe: () => Promise<CurrentVersion>;
  /** A read already made (the caller needed the full ARN first); counts as the first read. */
  firstRead?: CurrentVersion;
  /** The version the event names, if any: only a hint. */
  eventVersionId?: string;
  /** The version last broadcast for this secret, if any. */
  lastPublishedVersionId?: string;
  /**
   * When that version was published (ms, the publishing worker's clock). A read that does not list
   * it at all either predates it (stale) or comes after it lost its last label (DescribeSecret
   * omits unlabelled versions): a read started before the publish counts as stale.
   */
  lastPublishedAt?: number;
  /** When `firstRead` was started (ms); reads made here are timed by `now`. */
  firstReadStartedAt?: number;
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
  /** Set when the window ran out on a read that did not know the last published version yet. */
  staleBecause?: 'published-version';
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

/**
 * Two ways a read can be behind: it still shows the last published version while the event
 * names one it does not know yet (or knows only as AWSPENDING); or it shows another version than
 * the last published one while it lists that one as AWSPENDING, or does not list it and was
 * started before it was published — the read predates that version, e.g. a fast publish of a
 * later event or another worker's publish. Publishing such a read would broadcast a step
 * backwards. A version the read lists as AWSPREVIOUS or unlabelled was superseded: the read is
 * newer, not stale.
 */
function staleness(input: ConfirmInput, current: CurrentVersion, startedAt: number | undefined): 'event-version' | 'published-version' | undefined {
  const published = input.lastPublishedVersionId;
  if (published === undefined) return undefined;
  if (
    input.eventVersionId !== undefined &&
    current.versionId === published &&
    current.versionId !== input.eventVersionId &&
    mayBeNewer(input.eventVersionId, current)
  ) {
    return 'event-version';
  }
  // Needs the labels: without them every read would look behind.
  if (current.versionId === published || current.stagesByVersion === undefined) return undefined;
  const labels = current.stagesByVersion[published];
  if (labels?.includes('AWSPENDING')) return 'published-version';
  if (labels === undefined && input.lastPublishedAt !== undefined && startedAt !== undefined && startedAt < input.lastPublishedAt) {
    return 'published-version';
  }
  return undefined;
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
 * re-read; the subscribers' poll (and MissedByEvents) covers it. Likewise a read that does not
 * know the last published version yet (see `staleness`) is re-read rather than broadcast.
 */
export async function confirmCurrentVersion(input: ConfirmInput): Promise<ConfirmResult> {
  const sleep = input.sleep ?? defaultSleep;
  const now = input.now ?? Date.now;
  const deadline = now() + input.windowMs;
  let reads = 0;
  let next: CurrentVersion | undefined = input.firstRead;
  let startedAt = input.firstReadStartedAt;
  for (;;) {
    if (next === undefined) startedAt = now();
    const current = next ?? (await input.describe());
    next = undefined;
    reads += 1;
    const staleBecause = staleness(input, current, startedAt);
    if (staleBecause === undefined) return { current, reads, gaveUp: false };
    if (now() + input.intervalMs > deadline) {
      return staleBecause === 'published-version' ? { current, reads, gaveUp: true, staleBecause } : { current, reads, gaveUp: true };
    }
    await sleep(input.intervalMs);
  }
}
