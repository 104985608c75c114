import { DeleteRuleCommand, ListRulesCommand, RemoveTargetsCommand, type Rule } from '@aws-sdk/client-eventbridge';
import { DeleteQueueCommand, ListQueuesCommand, ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import { failedEntries } from './apply.js';
import { MANAGED_BY_TAG, MANAGED_BY_VALUE, STACK_TAG } from './desired.js';
import { awsCall } from './errors.js';
import { listTargets, observeRule, type InfraClients } from './observe.js';

export interface DestroyResult {
  deleted: string[];
  /** Resources whose name starts with the stack's name but that this stack did not create. */
  kept: Array<{ resource: string; reason: string }>;
}

/**
 * Deletes every rule and queue whose name starts with `stack` and that carries both
 * `managed-by=rotation-relay` and `rotation-relay:stack=<stack>` (including temporary `verify`
 * resources left behind by an interrupted run). Anything else with a matching name is kept and
 * reported. Rules go first so EventBridge stops sending to queues about to disappear.
 */
export async function destroyStack(clients: InfraClients, stack: string, onDeleted: (resource: string) => void = () => undefined): Promise<DestroyResult> {
  const result: DestroyResult = { deleted: [], kept: [] };
  const owned = (tags: Record<string, string>) => tags[MANAGED_BY_TAG] === MANAGED_BY_VALUE && tags[STACK_TAG] === stack;
  const notOwnedReason = `not tagged ${MANAGED_BY_TAG}=${MANAGED_BY_VALUE} and ${STACK_TAG}=${stack}`;

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

  for (const url of await listQueueUrls(clients, stack)) {
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
