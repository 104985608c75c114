import type { Logger } from '../../common/index.js';
import type { Metrics } from '../../metrics/index.js';
import type { ConfirmingRead, FastPublishOutcome, Invalidation, PublishOutcome } from '../../protocol/index.js';
import { parseEventBody, type RotationEvent } from '../events/index.js';
import type { CurrentVersion } from '../../secrets/index.js';
import type { RejectionCode } from './dead-letter.js';
import { invalidate, type InvalidateContext } from './invalidate-event.js';
import { ReceiptLine } from './receipt-line.js';

/** What became of one SQS message; `ack` says whether it may be deleted from the queue. */
export type MessageOutcome =
  | {
      kind: 'published';
      ack: true;
      secretArn: string;
      versionId: string;
      receivers: number;
      /** Published before DescribeSecret answered (see `ROTATION_RELAY_FAST_PUBLISH`). */
      fast?: true;
      /**
       * A fast publish that the confirming read contradicted: what was published in its place
       * (only on the value the handler resolves with, never on the early report).
       */
      correction?: { versionId: string; receivers: number };
    }
  | { kind: 'duplicate-event'; ack: true; secretArn: string }
  | { kind: 'unchanged-version'; ack: true; secretArn: string; versionId: string }
  | { kind: 'ignored'; ack: true; reason: string }
  | { kind: 'alerted'; ack: true; reason: string }
  /** Never publishable: the worker sends it to the DLQ at once (message-disposition.ts), or leaves it for the redrive policy. */
  | { kind: 'rejected'; ack: false; code: RejectionCode; reason: string };

export interface ReceivedMessage {
  body: string;
  messageId: string;
  /** When this worker received the message (ms since epoch): the start of PublishLatencyMs. */
  receivedAt: number;
  /**
   * Which receive this message came from (increasing per ReceiveMessage call of this process).
   * A DescribeSecret started after that receive may be shared with other messages, and a fast
   * publish waits while a message from an earlier receive is still being handled for the secret.
   * @defaultValue 0
   */
  receipt?: number;
}

export type PublishFields = Omit<Invalidation, 'v' | 'id' | 'publishedAt' | 'sig'>;

export interface HandlerDeps {
  /**
   * Reads the secret's current version (DescribeSecret). With `receipt`, a read of the same secret
   * started after that receive may be shared; without it, the read is the caller's own.
   */
  describe(secretId: string, receipt?: number): Promise<CurrentVersion>;
  lastPublished(secretArn: string): Promise<Invalidation | undefined>;
  /** Signs and publishes through the protocol's all-or-nothing script. */
  publish(invalidation: PublishFields, confirmedBy?: ConfirmingRead): Promise<PublishOutcome>;
  /**
   * The fast path (the protocol's `publishIfNewer`): publish an event that says its version became
   * AWSCURRENT before DescribeSecret answers. Absent: every event waits for DescribeSecret.
   */
  publishIfNewer?(invalidation: PublishFields, eventTime: number): Promise<FastPublishOutcome>;
  metrics: Metrics;
  logger: Logger;
  confirmWindowMs: number;
  confirmIntervalMs: number;
  now?: () => number;
  /** Pause between DescribeSecret re-reads; injectable so tests need no real time. */
  sleep?: (ms: number) => Promise<void>;
}

export interface HandleHooks {
  /**
   * Called once per message, as soon as its outcome is known: for a fast publish when the PUBLISH
   * reply is back (its DescribeSecret confirmation, and the delete, come after); otherwise just
   * before the handler resolves. `event` is the parsed body, when it parsed.
   */
  decided?(outcome: MessageOutcome, event: RotationEvent | undefined): void;
}

export type MessageHandler = (message: ReceivedMessage, hooks?: HandleHooks) => Promise<MessageOutcome>;

/**
 * One SQS body in, one outcome out. Transient failures (Redis or Secrets Manager unreachable)
 * throw, so the message stays on the queue and comes back; a body we cannot understand, or one
 * that can never be published (see `isPermanentFailure`), is `rejected` with a code and not
 * acknowledged: the worker sends it to the DLQ on this first receive (dead-letter.ts), or, when
 * it cannot, leaves it for the queue's redrive policy, without a retry's backoff. Nothing
 * here reads or logs a secret value: the worker only ever calls DescribeSecret.
 *
 * Fast path (when `deps.publishIfNewer` is given): an event that itself says version V became
 * AWSCURRENT at time T is published at once if T is newer than everything known about the secret
 * and V is not a version known to be older (the protocol script decides, atomically); then the
 * message is confirmed with DescribeSecret as every other one, and if the confirmed AWSCURRENT
 * differs, that is published through the same compare-and-set as a correction.
 */
export function createMessageHandler(deps: HandlerDeps): MessageHandler {
  const ctx: InvalidateContext = { deps, now: deps.now ?? Date.now, line: new ReceiptLine() };
  return async function handleMessage(message: ReceivedMessage, hooks: HandleHooks = {}): Promise<MessageOutcome> {
    let reported = false;
    const once: HandleHooks = {
      decided: (outcome, event) => {
        reported = true;
        hooks.decided?.(outcome, event);
      },
    };
    const { outcome, event } = await handleBody(ctx, message, once);
    if (!reported) hooks.decided?.(outcome, event);
    return outcome;
  };
}

/** Parses the body and routes it: an outcome at once for all but an invalidation (invalidate-event.ts). */
export async function handleBody(ctx: InvalidateContext, message: ReceivedMessage, hooks: HandleHooks): Promise<{ outcome: MessageOutcome; event?: RotationEvent }> {
  const { metrics, logger } = ctx.deps;
  metrics.count('EventsReceived');
  const parsed = parseEventBody(message.body);
  switch (parsed.action) {
    case 'reject':
      metrics.count('EventsInvalid');
      // The reason names what is wrong with the shape; the body itself is not logged
      // (it is untrusted and could be large or hostile).
      logger.warn({ messageId: message.messageId, eventId: parsed.eventId, code: 'EVENT_REJECTED', reason: parsed.reason }, 'message rejected; left for the DLQ');
      return { outcome: { kind: 'rejected', ack: false, code: 'EVENT_REJECTED', reason: parsed.reason } };
    case 'ignore':
      metrics.count('EventsIgnored');
      logger.debug({ messageId: message.messageId, eventId: parsed.eventId, reason: parsed.reason }, 'event ignored');
      return { outcome: { kind: 'ignored', ack: true, reason: parsed.reason }, event: parsed };
    case 'alert': {
      const rotationFailure = parsed.eventName === 'RotationFailed' || parsed.eventName === 'RotationAbandoned';
      metrics.count(rotationFailure ? 'RotationFailures' : 'EventsAlerted');
      logger.warn(
        { secretArn: parsed.secretArn, eventId: parsed.eventId, eventName: parsed.eventName, reason: parsed.reason },
        rotationFailure ? 'rotation failed' : 'secret alert',
      );
      return { outcome: { kind: 'alerted', ack: true, reason: parsed.reason }, event: parsed };
    }
    case 'invalidate': {
      if (!parsed.secretArn) {
        // The parser guarantees an id for invalidations; this guards the contract, not a real path.
        metrics.count('EventsInvalid');
        return { outcome: { kind: 'rejected', ack: false, code: 'EVENT_WITHOUT_SECRET_ID', reason: 'invalidation without a secret id' } };
      }
      return { outcome: await invalidate(ctx, { ...parsed, secretArn: parsed.secretArn }, message, hooks), event: parsed };
    }
  }
}
