import { DescribeEventBusCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { awsCall, InfraError, InfraErrorCodes } from './errors.js';

/** Partition, region and account the stack lives in: every ARN we build starts with these. */
export interface AccountContext {
  partition: string;
  region: string;
  accountId: string;
}

/**
 * Reads partition, region and account from the default event bus's ARN. This needs only
 * `events:DescribeEventBus` (which `infra` needs anyway) rather than another SDK client for STS.
 */
export async function resolveAccount(eventBridge: EventBridgeClient): Promise<AccountContext> {
  const bus = await awsCall('DescribeEventBus', 'default', () => eventBridge.send(new DescribeEventBusCommand({})));
  const match = /^arn:(?<partition>[^:]+):events:(?<region>[^:]+):(?<account>\d{12}):event-bus\/default$/.exec(bus.Arn ?? '');
  const groups = match?.groups;
  if (!groups?.['partition'] || !groups['region'] || !groups['account']) {
    throw new InfraError(InfraErrorCodes.AwsCallFailed, `DescribeEventBus returned an unexpected ARN "${bus.Arn ?? ''}"`);
  }
  return { partition: groups['partition'], region: groups['region'], accountId: groups['account'] };
}

export function queueArn(ctx: AccountContext, name: string): string {
  return `arn:${ctx.partition}:sqs:${ctx.region}:${ctx.accountId}:${name}`;
}

export function ruleArn(ctx: AccountContext, name: string): string {
  return `arn:${ctx.partition}:events:${ctx.region}:${ctx.accountId}:rule/${name}`;
}

/** `arn:…:secretsmanager:<region>:<account>:secret:` — what every secret ARN here starts with. */
export function secretArnPrefix(ctx: AccountContext): string {
  return `arn:${ctx.partition}:secretsmanager:${ctx.region}:${ctx.accountId}:secret:`;
}
