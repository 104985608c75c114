import type { RotationEvent } from '../events/index.js';
import { confirmCurrentVersion, type ConfirmResult } from './confirm-current-version.js';
import type { HandlerDeps, ReceivedMessage } from './handle-message.js';

/**
 * Why this exists: every invalidating event is confirmed with DescribeSecret before its message
 * is deleted, fast publish or not, and what is published is what the read shows, never what the
 * event claims. This gathers what that confirmation needs (the first read, possibly shared with
 * messages of the same receive; the last published version) and says when the read that decided
 * started: the publish script uses it to refuse a read older than one already published.
 */
export interface ConfirmedEvent {
  confirmed: ConfirmResult;
  /** When the read the confirmation rests on started (ms). */
  readStartedAt: number;
}

export type ConfirmDeps = Pick<HandlerDeps, 'describe' | 'lastPublished' | 'confirmWindowMs' | 'confirmIntervalMs' | 'sleep'> & { now: () => number };

/** Throws what the reads throw (SecretNotFoundError included): the caller decides what each means. */
export async function confirmEvent(deps: ConfirmDeps, event: RotationEvent & { secretArn: string }, message: ReceivedMessage): Promise<ConfirmedEvent> {
  const secretId = event.secretArn;
  const { now } = deps;
  let readStartedAt = now();
  // The versions hash is keyed by full ARN, and an API-call event may carry only the name
  // the caller used: read once first to learn the ARN, then compare.
  const firstReadStartedAt = readStartedAt;
  const firstRead = await deps.describe(secretId, message.receipt ?? 0);
  const lastKnown = await deps.lastPublished(firstRead.arn);
  const lastPublishedAt = lastKnown ? Date.parse(lastKnown.publishedAt) : Number.NaN;
  const confirmed = await confirmCurrentVersion({
    describe: () => {
      readStartedAt = now();
      return deps.describe(secretId);
    },
    firstRead,
    firstReadStartedAt,
    ...(event.versionId ? { eventVersionId: event.versionId } : {}),
    ...(lastKnown?.versionId ? { lastPublishedVersionId: lastKnown.versionId } : {}),
    ...(Number.isFinite(lastPublishedAt) ? { lastPublishedAt } : {}),
    windowMs: deps.confirmWindowMs,
    intervalMs: deps.confirmIntervalMs,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  return { confirmed, readStartedAt };
}
