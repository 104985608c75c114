import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/index.js';
import { InvalidInvalidationError, type ConfirmingRead, type FastPublishOutcome, type Invalidation, type PublishOutcome } from '../protocol/index.js';
import { isSecretsManagerArn, parseEventBody, type RotationEvent } from '../events/index.js';
import { SecretNotFoundError, SecretRequestInvalidError, type CurrentVersion } from '../secrets/index.js';
import { confirmCurrentVersion } from './confirm-current-version.js';
import type { RejectionCode } from './dead-letter.js';

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
  /** Never publishable: the worker sends it to the DLQ at once (relay-worker.ts), or leaves it for the redrive policy. */
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
 * Failures that will come back on every receive: an invalidation subscribers would reject (the
 * parser's limits make this a guard, not a path), and a request Secrets Manager refuses as
 * malformed. Access denied is not among them: once the policy is fixed a retry succeeds.
 */
function isPermanentFailure(error: unknown): error is InvalidInvalidationError | SecretRequestInvalidError {
  return error instanceof InvalidInvalidationError || error instanceof SecretRequestInvalidError;
}

/** Versions a read shows as older than its current one (AWSPREVIOUS, or no label at all). */
function supersededIn(read: CurrentVersion): string[] {
  if (!read.stagesByVersion) return [];
  return Object.entries(read.stagesByVersion)
    .filter(([id, labels]) => id !== read.versionId && !labels.includes('AWSCURRENT') && !labels.includes('AWSPENDING'))
    .map(([id]) => id);
}

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
  const now = deps.now ?? Date.now;
  const { metrics, logger } = deps;
  /** Receipts of the invalidating messages in flight, per secret name. */
  const inFlight = new Map<string, number[]>();

  function enter(key: string, receipt: number): () => void {
    const list = inFlight.get(key) ?? [];
    list.push(receipt);
    inFlight.set(key, list);
    return () => {
      list.splice(list.indexOf(receipt), 1);
      if (list.length === 0) inFlight.delete(key);
    };
  }

  /** No message from an earlier receive is still being handled for this secret. */
  function firstInLine(key: string, receipt: number): boolean {
    return (inFlight.get(key) ?? []).every((other) => other >= receipt);
  }

  function recordPublished(message: ReceivedMessage, event: RotationEvent, publishedAt: number): void {
    metrics.count('InvalidationsPublished');
    metrics.timing('PublishLatencyMs', publishedAt - message.receivedAt);
    const eventTime = event.eventTime ? Date.parse(event.eventTime) : Number.NaN;
    if (Number.isFinite(eventTime)) metrics.timing('EventAgeMs', Math.max(0, publishedAt - eventTime));
  }

  async function tryFastPublish(
    event: RotationEvent & { secretArn: string },
    message: ReceivedMessage,
    key: string,
  ): Promise<FastPublishOutcome | undefined> {
    const eventTime = event.eventTime ? Date.parse(event.eventTime) : Number.NaN;
    if (
      !deps.publishIfNewer ||
      event.movesCurrent !== true ||
      event.versionId === undefined ||
      event.eventId === undefined ||
      event.secretName === undefined ||
      !Number.isFinite(eventTime) ||
      !isSecretsManagerArn(event.secretArn) ||
      !firstInLine(key, message.receipt ?? 0)
    ) {
      return undefined;
    }
    return deps.publishIfNewer(
      {
        secretArn: event.secretArn,
        secretName: event.secretName,
        versionId: event.versionId,
        reason: event.eventName ?? event.detailType,
        eventId: event.eventId,
        eventTime: event.eventTime ?? new Date(eventTime).toISOString(),
      },
      eventTime,
    );
  }

  async function invalidate(event: RotationEvent & { secretArn: string }, message: ReceivedMessage, hooks: HandleHooks): Promise<MessageOutcome> {
    const key = event.secretName ?? event.secretArn;
    const leave = enter(key, message.receipt ?? 0);
    try {
      return await invalidateInLine(event, message, hooks, key);
    } catch (error) {
      // Retrying cannot help a message that can never be published: every receive would pay a
      // DescribeSecret and back off until maxReceiveCount. Rejected at once instead, like a body
      // the parser rejects, for the worker to send to the DLQ.
      if (!isPermanentFailure(error)) throw error;
      metrics.count('EventsInvalid');
      logger.warn(
        { messageId: message.messageId, eventId: event.eventId, secretArn: event.secretArn, err: { code: error.code }, reason: error.message },
        'message can never be published; left for the DLQ',
      );
      return { kind: 'rejected', ack: false, code: error instanceof SecretRequestInvalidError ? 'SECRET_REQUEST_INVALID' : 'PROTOCOL_INVALID_INVALIDATION', reason: error.message };
    } finally {
      leave();
    }
  }

  async function invalidateInLine(
    event: RotationEvent & { secretArn: string },
    message: ReceivedMessage,
    hooks: HandleHooks,
    key: string,
  ): Promise<MessageOutcome> {
    const secretId = event.secretArn;
    const log = { secretArn: event.secretArn, eventId: event.eventId, eventName: event.eventName ?? event.detailType };

    const fast = await tryFastPublish(event, message, key);
    if (fast?.outcome === 'duplicate-event') {
      metrics.count('DuplicateEvents');
      logger.info(log, 'duplicate event; already handled');
      return { kind: 'duplicate-event', ack: true, secretArn: event.secretArn };
    }
    let fastOutcome: Extract<MessageOutcome, { kind: 'published' }> | undefined;
    if (fast?.outcome === 'published' && event.versionId !== undefined) {
      const publishedAt = now();
      recordPublished(message, event, publishedAt);
      metrics.count('SubscribersReached', fast.receivers);
      logger.info(
        { ...log, versionId: event.versionId, receivers: fast.receivers, latencyMs: publishedAt - message.receivedAt, fast: true },
        'invalidation published',
      );
      fastOutcome = { kind: 'published', ack: true, secretArn: event.secretArn, versionId: event.versionId, receivers: fast.receivers, fast: true };
      hooks.decided?.(fastOutcome, event);
    }

    // Confirm with DescribeSecret: always, fast publish or not, before the message is deleted.
    let confirmed;
    let readStartedAt = now();
    try {
      // The versions hash is keyed by full ARN, and an API-call event may carry only the name
      // the caller used: read once first to learn the ARN, then compare.
      const firstReadStartedAt = readStartedAt;
      const firstRead = await deps.describe(secretId, message.receipt ?? 0);
      const lastKnown = await deps.lastPublished(firstRead.arn);
      const lastPublishedAt = lastKnown ? Date.parse(lastKnown.publishedAt) : Number.NaN;
      confirmed = await confirmCurrentVersion({
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
    } catch (error) {
      if (error instanceof SecretNotFoundError) {
        // Deleted between the event and now: nothing to refresh, but an operator must know.
        metrics.count('EventsAlerted');
        logger.warn({ secretId, eventId: event.eventId, err: { code: error.code } }, 'secret no longer exists; event dropped with an alert');
        return fastOutcome ?? { kind: 'alerted', ack: true, reason: error.message };
      }
      throw error;
    }
    const { current } = confirmed;
    if (confirmed.gaveUp) {
      logger.info(
        { secretArn: current.arn, eventVersionId: event.versionId, currentVersionId: current.versionId, reads: confirmed.reads },
        confirmed.staleBecause === 'published-version'
          ? 'reads kept showing another version than the last published one without knowing that one; publishing what they show'
          : 'event names a version that is not current; treating it as stale',
      );
    }
    const result = await deps.publish(
      {
        secretArn: current.arn,
        secretName: current.name,
        versionId: current.versionId,
        reason: event.eventName ?? event.detailType,
        eventId: event.eventId ?? `sqs-${message.messageId}`,
        eventTime: event.eventTime ?? new Date(message.receivedAt).toISOString(),
      },
      { startedAt: readStartedAt, supersededVersionIds: supersededIn(current) },
    );
    const confirmedLog = { ...log, secretArn: current.arn, versionId: current.versionId };

    if (fastOutcome) {
      // Our own fast publish, now confirmed: nothing more unless the read contradicts it.
      if (result.outcome !== 'published') return fastOutcome;
      metrics.count('InvalidationsPublished');
      metrics.count('SubscribersReached', result.receivers);
      logger.warn(
        { ...confirmedLog, fastVersionId: fastOutcome.versionId, receivers: result.receivers },
        'DescribeSecret shows another AWSCURRENT than the event published at once; published a correction',
      );
      return { ...fastOutcome, correction: { versionId: current.versionId, receivers: result.receivers } };
    }
    // A redelivery of a message whose fast publish was made but never confirmed (a crash, a
    // failed read): this delivery confirmed it; unless that changed something, it is a duplicate.
    const redelivered = fast?.outcome === 'confirm-pending';
    if (result.outcome === 'duplicate-event' || (redelivered && result.outcome === 'unchanged-version')) {
      metrics.count('DuplicateEvents');
      logger.info(confirmedLog, 'duplicate event; already handled');
      return { kind: 'duplicate-event', ack: true, secretArn: current.arn };
    }
    if (result.outcome === 'unchanged-version') {
      metrics.count('DuplicateEvents');
      logger.info(confirmedLog, 'version already broadcast; nothing to publish');
      return { kind: 'unchanged-version', ack: true, secretArn: current.arn, versionId: current.versionId };
    }
    const publishedAt = now();
    recordPublished(message, event, publishedAt);
    metrics.count('SubscribersReached', result.receivers);
    logger.info({ ...confirmedLog, receivers: result.receivers, latencyMs: publishedAt - message.receivedAt }, 'invalidation published');
    return { kind: 'published', ack: true, secretArn: current.arn, versionId: current.versionId, receivers: result.receivers };
  }

  async function handle(message: ReceivedMessage, hooks: HandleHooks): Promise<{ outcome: MessageOutcome; event?: RotationEvent }> {
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
        return { outcome: await invalidate({ ...parsed, secretArn: parsed.secretArn }, message, hooks), event: parsed };
      }
    }
  }

  return async function handleMessage(message: ReceivedMessage, hooks: HandleHooks = {}): Promise<MessageOutcome> {
    let reported = false;
    const once: HandleHooks = {
      decided: (outcome, event) => {
        reported = true;
        hooks.decided?.(outcome, event);
      },
    };
    const { outcome, event } = await handle(message, once);
    if (!reported) hooks.decided?.(outcome, event);
    return outcome;
  };
}
