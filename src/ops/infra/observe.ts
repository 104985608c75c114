import {
  DescribeRuleCommand,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  type EventBridgeClient,
  type Target,
} from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueueTagsCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DesiredState } from './desired.js';
import { awsCall, errorName } from './errors.js';

/** What exists now, read with Describe/List/Get calls only. */

export interface ObservedQueue {
  name: string;
  url: string;
  attributes: Record<string, string>;
  tags: Record<string, string>;
}

export interface ObservedRule {
  name: string;
  arn: string;
  eventPattern: string | undefined;
  state: string | undefined;
  description: string | undefined;
  tags: Record<string, string>;
  targets: Target[];
}

export interface ObservedState {
  /** By queue name; absent queues are not in the map. */
  queues: Map<string, ObservedQueue>;
  rule: ObservedRule | undefined;
}

export interface InfraClients {
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
}

export async function observeState(clients: InfraClients, desired: DesiredState): Promise<ObservedState> {
  const queues = new Map<string, ObservedQueue>();
  for (const queue of desired.queues) {
    const observed = await observeQueue(clients.sqs, queue.name);
    if (observed) queues.set(queue.name, observed);
  }
  return { queues, rule: await observeRule(clients.eventBridge, desired.rule.name) };
}

export async function observeQueue(sqs: SQSClient, name: string): Promise<ObservedQueue | undefined> {
  const url = await queueUrl(sqs, name);
  if (url === undefined) return undefined;
  const [attributes, tags] = await Promise.all([
    awsCall('GetQueueAttributes', `queue ${name}`, () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))),
    awsCall('ListQueueTags', `queue ${name}`, () => sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))),
  ]);
  return { name, url, attributes: attributes.Attributes ?? {}, tags: tags.Tags ?? {} };
}

async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    const output = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    return output.QueueUrl;
  } catch (error) {
    if (isQueueMissing(error)) return undefined;
    return awsCall('GetQueueUrl', `queue ${name}`, () => Promise.reject(error));
  }
}

export function isQueueMissing(error: unknown): boolean {
  const name = errorName(error);
  return name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue';
}

export async function observeRule(eventBridge: EventBridgeClient, name: string): Promise<ObservedRule | undefined> {
  let rule;
  try {
    rule = await eventBridge.send(new DescribeRuleCommand({ Name: name }));
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    return awsCall('DescribeRule', `rule ${name}`, () => Promise.reject(error));
  }
  const arn = rule.Arn ?? '';
  const [tags, targets] = await Promise.all([
    awsCall('ListTagsForResource', `rule ${name}`, () => eventBridge.send(new ListTagsForResourceCommand({ ResourceARN: arn }))),
    listTargets(eventBridge, name),
  ]);
  return {
    name,
    arn,
    eventPattern: rule.EventPattern,
    state: rule.State,
    description: rule.Description,
    tags: Object.fromEntries((tags.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
    targets,
  };
}

export async function listTargets(eventBridge: EventBridgeClient, rule: string): Promise<Target[]> {
  const targets: Target[] = [];
  let token: string | undefined;
  do {
    const page = await awsCall('ListTargetsByRule', `rule ${rule}`, () =>
      eventBridge.send(new ListTargetsByRuleCommand({ Rule: rule, ...(token ? { NextToken: token } : {}) })),
    );
    targets.push(...(page.Targets ?? []));
    token = page.NextToken;
  } while (token);
  return targets;
}
