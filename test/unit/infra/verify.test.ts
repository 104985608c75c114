import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointFor, InfraError, loadBasePattern, serializePattern, verifyRule, type AccountContext } from '../../../src/ops/infra/index.js';

/*
 * The TestEventPattern method needs AWS (moto_server does not implement the call), so its
 * plumbing is checked here against a mocked client; the mirror method runs for real against
 * moto_server in test/integration/infra.
 */

const CTX: AccountContext = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' };
const eventBridgeMock = mockClient(EventBridgeClient);
const sqsMock = mockClient(SQSClient);

afterEach(() => {
  eventBridgeMock.reset();
  sqsMock.reset();
});

function deployRule(pattern: string, targetArn = 'arn:aws:sqs:eu-west-1:111122223333:relay'): void {
  eventBridgeMock.on(DescribeRuleCommand).resolves({ Name: 'relay', Arn: 'arn:aws:events:eu-west-1:111122223333:rule/relay', EventPattern: pattern, State: 'ENABLED' });
  eventBridgeMock.on(ListTagsForResourceCommand).resolves({ Tags: [] });
  eventBridgeMock.on(ListTargetsByRuleCommand).resolves({ Targets: [{ Id: 'rotation-relay-queue', Arn: targetArn }] });
}

function clients() {
  return { eventBridge: new EventBridgeClient({ region: 'eu-west-1' }), sqs: new SQSClient({ region: 'eu-west-1' }) };
}

describe('verifyRule by TestEventPattern', () => {
  it('tests each sample against the deployed pattern, with the account set to ours, and creates nothing', async () => {
    // Prepare
    const pattern = serializePattern(loadBasePattern());
    deployRule(pattern);
    eventBridgeMock.on(TestEventPatternCommand).callsFake((input: { Event: string }) => {
      const event = JSON.parse(input.Event) as { 'detail-type': string; detail: Record<string, unknown>; source: string };
      // A stand-in verdict: the real one comes from AWS.
      const routes = event.source === 'aws.secretsmanager' && event.detail['labelUpdated'] !== 'AWSPENDING' && event.detail['errorCode'] === undefined;
      return { Result: routes };
    });

    // Act
    const report = await verifyRule(clients(), CTX, { stack: 'relay', scope: { kind: 'all' }, method: 'test-pattern', waitMs: 1000, basePattern: loadBasePattern() });

    // Assess
    expect(report.ok).toBe(true);
    expect(report.method).toBe('test-pattern');
    const calls = eventBridgeMock.commandCalls(TestEventPatternCommand);
    expect(calls).toHaveLength(8);
    for (const call of calls) {
      expect(call.args[0].input.EventPattern).toBe(pattern);
      expect((JSON.parse(call.args[0].input.Event ?? '{}') as { account: string }).account).toBe('111122223333');
    }
    expect(eventBridgeMock.commandCalls(PutRuleCommand)).toHaveLength(0);
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(0);
    expect(report.notes).toEqual([]);
  });

  it('fails the samples AWS says do not match, and a rule that targets another queue', async () => {
    // Prepare
    deployRule(serializePattern(loadBasePattern()), 'arn:aws:sqs:eu-west-1:111122223333:elsewhere');
    eventBridgeMock.on(TestEventPatternCommand).resolves({ Result: false });

    // Act
    const report = await verifyRule(clients(), CTX, { stack: 'relay', scope: { kind: 'all' }, method: 'test-pattern', waitMs: 1000, basePattern: loadBasePattern() });

    // Assess
    expect(report.ok).toBe(false);
    expect(report.cases.filter((c) => !c.ok).map((c) => c.id)).toEqual([
      'label-updated-awscurrent',
      'rotation-succeeded',
      'rotation-failed',
      'put-secret-value',
      'put-secret-value-aRN',
    ]);
    expect(report.checks.find((c) => c.name === 'target')?.ok).toBe(false);
  });

  it('says when there is no rule to verify', async () => {
    // Prepare
    eventBridgeMock.on(DescribeRuleCommand).rejects(Object.assign(new Error('Rule relay does not exist'), { name: 'ResourceNotFoundException' }));

    // Act + Assess
    const run = verifyRule(clients(), CTX, { stack: 'relay', scope: { kind: 'all' }, method: 'test-pattern', waitMs: 1000, basePattern: loadBasePattern() });
    await expect(run).rejects.toBeInstanceOf(InfraError);
    await expect(
      verifyRule(clients(), CTX, { stack: 'relay', scope: { kind: 'all' }, method: 'test-pattern', waitMs: 1000, basePattern: loadBasePattern() }),
    ).rejects.toThrow(/rule relay not found on the default event bus of eu-west-1: run "rotation-relay infra apply --name relay" first/);
  });
});

describe('endpointFor', () => {
  it('prefers the service-specific variable, like the SDK', () => {
    expect(endpointFor({ AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://b:2' }, 'EVENTBRIDGE')).toBe('http://b:2');
    expect(endpointFor({ AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://b:2' }, 'SQS')).toBe('http://a:1');
    expect(endpointFor({ AWS_ENDPOINT_URL: ' ' }, 'SQS')).toBeUndefined();
    expect(endpointFor({}, 'EVENTBRIDGE')).toBeUndefined();
  });
});
