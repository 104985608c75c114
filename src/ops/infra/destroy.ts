import { DeleteRuleCommand, ListRulesCommand, RemoveTargetsCommand, type Rule } from '@aws-sdk/client-eventbridge';
import { DeleteQueueCommand, GetQueueAttributesCommand, ListQueuesCommand, ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import { failedEntries } from './apply.js';
import { MANAGED_BY_TAG, MANAGED_BY_VALUE, STACK_TAG, stackNames } from './desired.js';
import { awsCall, InfraError, InfraErrorCodes } from './errors.js';
import { listTargets, observeRule, type InfraClients } from './observe.js';

export interface DestroyResult {
  deleted: string[];
  /** Resources whose name starts with the stack's name but that this stack did not create. */
  kept: Array<{ resource: string; reason: string }>;
}

export interface DestroyOptions {
  /**
   * Delete the DLQs even when they hold messages (events the worker or EventBridge could not
   * handle, which are lost with them). @defaultValue `false`: refuse, before deleting anything
   */
  force?: boolean;
  onDeleted?: (resource: string) => void;
}

/** A DLQ of the stack that still holds messages, as `destroy` reports it. */
interface NonEmptyQueue {
  name: string;
  messages: number;
}

/**
 * Deletes every rule and queue whose name starts with `stack` and that carries both
 * `managed-by=rotation-relay` and `rotation-relay:stack=<stack>` (including temporary `verify`
 * resources left behind by an interrupted run). Anything else with a matching name is kept and
 * reported. Rules go first so EventBridge stops sending to queues about to disappear. A DLQ
 * that still holds messages makes it refuse before deleting anything, unless `force` is set.
 */
export async function destroyStack(clients: InfraClients, stack: string, options: DestroyOptions = {}): Promise<DestroyResult> {
  const onDeleted = options.onDeleted ?? (() => undefined);
  const result: DestroyResult = { deleted: [], kept: [] };
  const owned = (tags: Record<string, string>) => tags[MANAGED_BY_TAG] === MANAGED_BY_VALUE && tags[STACK_TAG] === stack;
  const notOwnedReason = `not tagged ${MANAGED_BY_TAG}=${MANAGED_BY_VALUE} and ${STACK_TAG}=${stack}`;
  const queueUrls = await listQueueUrls(clients, stack);
  // Checked before anything is deleted: a refusal must leave the stack whole, rule included.
  if (options.force !== true) await refuseNonEmptyDeadLetterQueues(clients, stack, queueUrls);

  for (const rule of await listRules(clients, stack)) {
    const name = rule.Name ?? '';
    const observed = await observeRule(clients.eventBridge, name);
    if (!observed) continue;
    if (!owned(observed.tags)) {
      result.kept.push({ resource: `rule ${name}`, reason: notOwnedReason });
      continue;
    }
    const targets = await listTargets(clients.eventBridge, name);
    if (targets.length > 0) {
      const output = await awsCall('RemoveTargets', `rule ${name}`, () =>
        clients.eventBridge.send(new RemoveTargetsCommand({ Rule: name, Ids: targets.map((t) => t.Id ?? '') })),
      );
      failedEntries('RemoveTargets', `rule ${name}`, output.FailedEntryCount, output.FailedEntries);
    }
    await awsCall('DeleteRule', `rule ${name}`, () => clients.eventBridge.send(new DeleteRuleCommand({ Name: name })));
    result.deleted.push(`rule ${name}`);
    onDeleted(`rule ${name}`);
  }

  for (const url of queueUrls) {
    const name = url.slice(url.lastIndexOf('/') + 1);
    const tags = await awsCall('ListQueueTags', `queue ${name}`, () => clients.sqs.send(new ListQueueTagsCommand({ QueueUrl: url })));
    if (!owned(tags.Tags ?? {})) {
      result.kept.push({ resource: `queue ${name}`, reason: notOwnedReason });
      continue;
    }
    await awsCall('DeleteQueue', `queue ${name}`, () => clients.sqs.send(new DeleteQueueCommand({ QueueUrl: url })));
    result.deleted.push(`queue ${name}`);
    onDeleted(`queue ${name}`);
  }
  return result;
}

/**
 * The DLQs hold what the worker rejected and what EventBridge could not deliver: evidence an
 * operator may still need (and events that can still be redriven). Deleting them takes `--force`.
 */
async function refuseNonEmptyDeadLetterQueues(clients: InfraClients, stack: string, queueUrls: readonly string[]): Promise<void> {
  const names = stackNames(stack);
  const deadLetterQueues = new Set([names.deadLetterQueue, names.eventsDeadLetterQueue]);
  const nonEmpty: NonEmptyQueue[] = [];
  for (const url of queueUrls) {
    const name = url.slice(url.lastIndexOf('/') + 1);
    if (!deadLetterQueues.has(name)) continue;
    const messages = await queueDepth(clients, url, name);
    if (messages > 0) nonEmpty.push({ name, messages });
  }
  if (nonEmpty.length === 0) return;
  const listed = nonEmpty.map((q) => `${q.name} holds ${q.messages} message${q.messages === 1 ? '' : 's'}`).join(', ');
  throw new InfraError(
    InfraErrorCodes.DeadLetterQueueNotEmpty,
    `nothing destroyed: ${listed}. Look at them first (aws sqs receive-message --queue-url <url> | rotation-relay inspect-event -, see docs/deploy.md#alarms), redrive what is worth it, then run destroy again, or add --force to delete them with the stack`,
  );
}

/** Visible, in flight and delayed: every message the queue would lose. */
async function queueDepth({ sqs }: InfraClients, url: string, name: string): Promise<number> {
  const output = await awsCall('GetQueueAttributes', `queue ${name}`, () =>
    sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    ),
  );
  const attributes = output.Attributes ?? {};
  return ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'].reduce(
    (sum, key) => sum + (Number(attributes[key as keyof typeof attributes] ?? 0) || 0),
    0,
  );
}

async function listRules({ eventBridge }: InfraClients, prefix: string): Promise<Rule[]> {
  const rules: Rule[] = [];
  let token: string | undefined;
  do {
    const page = await awsCall('ListRules', `prefix ${prefix}`, () =>
      eventBridge.send(new ListRulesCommand({ NamePrefix: prefix, ...(token ? { NextToken: token } : {}) })),
    );
    rules.push(...(page.Rules ?? []));
    token = page.NextToken;
  } while (token);
  return rules;
}

async function listQueueUrls({ sqs }: InfraClients, prefix: string): Promise<string[]> {
  const urls: string[] = [];
  let token: string | undefined;
  do {
    const page = await awsCall('ListQueues', `prefix ${prefix}`, () =>
      sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000, ...(token ? { NextToken: token } : {}) })),
    );
    urls.push(...(page.QueueUrls ?? []));
    token = page.NextToken;
  } while (token);
  return urls;
}
