import { PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand, TagResourceCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, SetQueueAttributesCommand, TagQueueCommand } from '@aws-sdk/client-sqs';
import { awsCall, InfraError, InfraErrorCodes } from './errors.js';
import type { InfraClients } from './observe.js';
import { serializePattern } from './pattern.js';
import type { Change, Plan } from './plan.js';

export interface AppliedChange {
  action: Change['action'];
  resource: string;
  /** Past tense, for the operator: `created queue rotation-relay-dlq`. */
  message: string;
}

/**
 * Executes the plan's changes in order (queues, then the rule, then its targets). An empty plan
 * makes no call at all, which is what makes a second `apply` a no-op.
 */
export async function applyPlan(clients: InfraClients, plan: Plan, onChange: (applied: AppliedChange) => void = () => undefined): Promise<AppliedChange[]> {
  const applied: AppliedChange[] = [];
  for (const change of plan.changes) {
    await applyChange(clients, plan, change);
    const done = { action: change.action, resource: change.resource, message: `${pastTense(change)} ${change.resource}` };
    applied.push(done);
    onChange(done);
  }
  return applied;
}

async function applyChange({ eventBridge, sqs }: InfraClients, plan: Plan, change: Change): Promise<void> {
  const rule = plan.desired.rule;
  switch (change.op) {
    case 'create-queue':
      await awsCall('CreateQueue', change.resource, () =>
        sqs.send(new CreateQueueCommand({ QueueName: change.queue.name, Attributes: change.queue.attributes, tags: change.queue.tags })),
      );
      return;
    case 'set-queue-attributes':
      await awsCall('SetQueueAttributes', change.resource, () =>
        sqs.send(new SetQueueAttributesCommand({ QueueUrl: change.url, Attributes: change.attributes })),
      );
      return;
    case 'tag-queue':
      await awsCall('TagQueue', change.resource, () => sqs.send(new TagQueueCommand({ QueueUrl: change.url, Tags: change.tags })));
      return;
    case 'put-rule':
      await awsCall('PutRule', change.resource, () =>
        eventBridge.send(
          new PutRuleCommand({
            Name: rule.name,
            EventPattern: serializePattern(rule.pattern),
            State: rule.state,
            Description: rule.description,
            // Tags are only taken on creation; drift on an existing rule goes through TagResource.
            ...(change.create ? { Tags: Object.entries(rule.tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
          }),
        ),
      );
      return;
    case 'tag-rule':
      await awsCall('TagResource', change.resource, () =>
        eventBridge.send(new TagResourceCommand({ ResourceARN: change.arn, Tags: Object.entries(change.tags).map(([Key, Value]) => ({ Key, Value })) })),
      );
      return;
    case 'put-target': {
      const output = await awsCall('PutTargets', change.resource, () => eventBridge.send(new PutTargetsCommand({ Rule: rule.name, Targets: [change.target] })));
      failedEntries('PutTargets', change.resource, output.FailedEntryCount, output.FailedEntries);
      return;
    }
    case 'remove-target': {
      const output = await awsCall('RemoveTargets', change.resource, () =>
        eventBridge.send(new RemoveTargetsCommand({ Rule: rule.name, Ids: [change.targetId] })),
      );
      failedEntries('RemoveTargets', change.resource, output.FailedEntryCount, output.FailedEntries);
      return;
    }
  }
}

/** PutTargets/RemoveTargets report per-entry failures in a 200 response. */
export function failedEntries(
  operation: string,
  resource: string,
  count: number | undefined,
  entries: Array<{ ErrorCode?: string | undefined; ErrorMessage?: string | undefined }> | undefined,
): void {
  if (!count) return;
  const first = entries?.[0];
  throw new InfraError(InfraErrorCodes.AwsCallFailed, `${operation} ${resource} failed: ${first?.ErrorCode ?? 'error'}: ${first?.ErrorMessage ?? ''}`.trim());
}

function pastTense(change: Change): string {
  switch (change.op) {
    case 'create-queue':
      return 'created';
    case 'set-queue-attributes':
      return 'updated attributes of';
    case 'tag-queue':
    case 'tag-rule':
      return 'tagged';
    case 'put-rule':
      return change.create ? 'created' : 'updated';
    case 'put-target':
      return change.action === 'create' ? 'added' : 'updated';
    case 'remove-target':
      return 'removed';
  }
}
