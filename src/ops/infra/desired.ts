import { queueArn, ruleArn, type AccountContext } from './account.js';
import type { Json, JsonObject } from './json.js';
import { narrowPattern, type EventPattern } from './pattern.js';
import { scopeFilter, type SecretScope } from './scope.js';

/**
 * What `infra apply` wants to exist, computed from the flags and the account, with every ARN
 * known in advance (they are deterministic) so `plan` can show complete values.
 */

/** Tags that mark a resource as created by `rotation-relay infra` for one stack name. */
export const MANAGED_BY_TAG = 'managed-by';
export const MANAGED_BY_VALUE = 'rotation-relay';
export const STACK_TAG = 'rotation-relay:stack';

/** Defaults shared by the CLI and the CloudFormation template (a test checks the template's). */
export const INFRA_DEFAULTS = {
  name: 'rotation-relay',
  maxReceiveCount: 5,
  /** Matches the worker's ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS default. */
  visibilityTimeoutSeconds: 30,
  /** One day: keep the worker's dedupe TTL (default 86400 s) at or above the queue's retention. */
  messageRetentionSeconds: 86_400,
  /** The maximum: long enough for an operator to look at what failed. */
  deadLetterRetentionSeconds: 1_209_600,
  /** Long polling; the worker asks for 20 s itself, this covers other consumers. */
  receiveWaitSeconds: 20,
  /** EventBridge's own maxima: keep trying for a day before the event goes to the events DLQ. */
  eventRetryAttempts: 185,
  eventMaxAgeSeconds: 86_400,
} as const;

/** The target id of the queue on the rule. */
export const QUEUE_TARGET_ID = 'rotation-relay-queue';

export const RULE_DESCRIPTION = 'rotation-relay: Secrets Manager rotation events to SQS (managed by rotation-relay infra)';

/** Queue and rule names of a stack; `--name` must leave room for the longest suffix (64 characters). */
export const STACK_NAME_RE = /^[A-Za-z0-9_-]{1,48}$/;

export interface StackNames {
  stack: string;
  queue: string;
  deadLetterQueue: string;
  /** Where EventBridge puts events it could not deliver to the queue (the target's DeadLetterConfig). */
  eventsDeadLetterQueue: string;
  rule: string;
}

export function stackNames(stack: string): StackNames {
  return {
    stack,
    queue: stack,
    deadLetterQueue: `${stack}-dlq`,
    eventsDeadLetterQueue: `${stack}-events-dlq`,
    rule: stack,
  };
}

export interface InfraOptions {
  name: string;
  scope: SecretScope;
  maxReceiveCount: number;
  /**
   * IAM principals (role or user ARNs) that may send to the queue besides the rule: whoever
   * starts a DLQ redrive into it (StartMessageMoveTask sends with the starter's permissions).
   * @defaultValue `[]`: only the rule may send, and a redrive into the queue is denied
   */
  redrivePrincipals?: readonly string[];
}

export interface DesiredQueue {
  name: string;
  arn: string;
  /** Only the attributes we manage; others (delays, sizes) are left as AWS has them. */
  attributes: Record<string, string>;
  tags: Record<string, string>;
}

export interface DesiredTarget {
  Id: string;
  Arn: string;
  DeadLetterConfig: { Arn: string };
  RetryPolicy: { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number };
}

export interface DesiredRule {
  name: string;
  arn: string;
  pattern: EventPattern;
  state: 'ENABLED';
  description: string;
  tags: Record<string, string>;
  targets: DesiredTarget[];
}

export interface DesiredState {
  names: StackNames;
  account: AccountContext;
  /** In creation order: a queue's redrive target exists before the queue that names it. */
  queues: DesiredQueue[];
  rule: DesiredRule;
}

export function stackTags(stack: string): Record<string, string> {
  return { [MANAGED_BY_TAG]: MANAGED_BY_VALUE, [STACK_TAG]: stack };
}

/**
 * Lets EventBridge deliver to `queue` only on behalf of `rule` (`aws:SourceArn`), which is why
 * the target needs no RoleArn: SQS targets are authorised by the queue's resource policy. Every
 * request over plain HTTP is denied. infra/rotation-relay.yaml writes the same statements.
 */
export function eventBridgeQueuePolicy(queue: string, rule: string): JsonObject {
  return { Version: '2012-10-17', Statement: [allowRule(queue, rule), denyInsecureTransport(queue)] };
}

/**
 * The worker's queue: as {@link eventBridgeQueuePolicy}, plus an explicit Deny of SendMessage for
 * everyone but the rule, so an identity policy granting `sqs:SendMessage` on `*` cannot inject
 * bodies. `redrivePrincipals` are exempt: a DLQ redrive (StartMessageMoveTask) sends to the
 * queue with the permissions of whoever started it. The redrive from the queue *to* its DLQ
 * after maxReceiveCount is SQS's own move, which queue policies do not govern.
 */
export function workerQueuePolicy(queue: string, rule: string, redrivePrincipals: readonly string[] = []): JsonObject {
  const notTheRule: Record<string, Json> = { 'aws:SourceArn': rule };
  if (redrivePrincipals.length > 0) notTheRule['aws:PrincipalArn'] = [...redrivePrincipals];
  return {
    Version: '2012-10-17',
    Statement: [
      allowRule(queue, rule),
      {
        Sid: 'DenySendExceptRule',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sqs:SendMessage',
        Resource: queue,
        // Both keys must differ for the Deny to apply; a key the request lacks counts as differing.
        Condition: { ArnNotEquals: notTheRule },
      },
      denyInsecureTransport(queue),
    ],
  };
}

/**
 * The worker's DLQ: HTTPS only, and no Deny on SendMessage, because the worker sends a body it can
 * never publish here itself (its IAM policy grants that on this queue only) and SQS's redrive moves
 * the rest.
 */
export function deadLetterQueuePolicy(queue: string): JsonObject {
  return { Version: '2012-10-17', Statement: [denyInsecureTransport(queue)] };
}

/** Only `sourceQueue` may use the DLQ as its dead-letter queue (and redrive from it). */
export function redriveAllowPolicy(sourceQueue: string): JsonObject {
  return { redrivePermission: 'byQueue', sourceQueueArns: [sourceQueue] };
}

function allowRule(queue: string, rule: string): JsonObject {
  return {
    Sid: 'AllowEventBridgeRule',
    Effect: 'Allow',
    Principal: { Service: 'events.amazonaws.com' },
    Action: 'sqs:SendMessage',
    Resource: queue,
    Condition: { ArnEquals: { 'aws:SourceArn': rule } },
  };
}

function denyInsecureTransport(queue: string): JsonObject {
  return {
    Sid: 'DenyInsecureTransport',
    Effect: 'Deny',
    Principal: '*',
    Action: 'sqs:*',
    Resource: queue,
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  };
}

export function buildDesiredState(options: InfraOptions, account: AccountContext, basePattern: EventPattern): DesiredState {
  const names = stackNames(options.name);
  const tags = stackTags(options.name);
  const arns = {
    queue: queueArn(account, names.queue),
    deadLetterQueue: queueArn(account, names.deadLetterQueue),
    eventsDeadLetterQueue: queueArn(account, names.eventsDeadLetterQueue),
    rule: ruleArn(account, names.rule),
  };
  const sse = { SqsManagedSseEnabled: 'true' };
  const queues: DesiredQueue[] = [
    {
      name: names.deadLetterQueue,
      arn: arns.deadLetterQueue,
      attributes: {
        MessageRetentionPeriod: String(INFRA_DEFAULTS.deadLetterRetentionSeconds),
        ...sse,
        Policy: JSON.stringify(deadLetterQueuePolicy(arns.deadLetterQueue)),
        RedriveAllowPolicy: JSON.stringify(redriveAllowPolicy(arns.queue)),
      },
      tags,
    },
    {
      name: names.eventsDeadLetterQueue,
      arn: arns.eventsDeadLetterQueue,
      attributes: {
        MessageRetentionPeriod: String(INFRA_DEFAULTS.deadLetterRetentionSeconds),
        ...sse,
        Policy: JSON.stringify(eventBridgeQueuePolicy(arns.eventsDeadLetterQueue, arns.rule)),
      },
      tags,
    },
    {
      name: names.queue,
      arn: arns.queue,
      attributes: {
        VisibilityTimeout: String(INFRA_DEFAULTS.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(INFRA_DEFAULTS.messageRetentionSeconds),
        ReceiveMessageWaitTimeSeconds: String(INFRA_DEFAULTS.receiveWaitSeconds),
        ...sse,
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arns.deadLetterQueue, maxReceiveCount: options.maxReceiveCount }),
        Policy: JSON.stringify(workerQueuePolicy(arns.queue, arns.rule, options.redrivePrincipals)),
      },
      tags,
    },
  ];
  return {
    names,
    account,
    queues,
    rule: {
      name: names.rule,
      arn: arns.rule,
      pattern: narrowPattern(basePattern, scopeFilter(options.scope, account)),
      state: 'ENABLED',
      description: RULE_DESCRIPTION,
      tags,
      targets: [
        {
          Id: QUEUE_TARGET_ID,
          Arn: arns.queue,
          DeadLetterConfig: { Arn: arns.eventsDeadLetterQueue },
          RetryPolicy: {
            MaximumRetryAttempts: INFRA_DEFAULTS.eventRetryAttempts,
            MaximumEventAgeInSeconds: INFRA_DEFAULTS.eventMaxAgeSeconds,
          },
        },
      ],
    },
  };
}
