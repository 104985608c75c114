import {
  DescribeRuleCommand,
  DisableRuleCommand,
  EventBridgeClient,
  ListRulesCommand,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliIoDouble, type CliIoDouble } from '../../support/cli-io-double.js';
import { runCli } from '../../../src/ops/cli/run.js';
import {
  applyPlan,
  buildDesiredState,
  computePlan,
  loadBasePattern,
  observeState,
  resolveAccount,
  EMULATOR_UNREPORTED_ATTRIBUTES,
  type InfraClients,
} from '../../../src/ops/infra/index.js';
import { runCliProcess } from '../../support/cli-process.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../support/moto-server.js';

/*
 * `rotation-relay infra` against a private moto_server, run in-process through runCli with the
 * environment an operator would set. The tests share one emulator and run in order: apply,
 * apply again, verify, drift, narrowing, refusals, destroy refused while a DLQ holds messages,
 * destroy --force, destroy.
 */


const READ_ONLY = /^(Describe|List|Get)/;
/** There is no default scope: forwarding every secret must be asked for. */
const EVERY_SECRET = ['--secret-prefix', '*'];

let moto: MotoHandle;
let env: Record<string, string>;
let eventBridge: EventBridgeClient;
let sqs: SQSClient;

async function cli(...argv: string[]): Promise<{ code: number; io: CliIoDouble }> {
  const io = cliIoDouble({ env, split: true });
  const code = await runCli(['infra', ...argv], io);
  return { code, io };
}

async function queueUrl(name: string): Promise<string> {
  return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
}

async function queueNames(prefix = ''): Promise<string[]> {
  const urls = (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? [];
  return urls.map((url) => url.slice(url.lastIndexOf('/') + 1)).sort();
}

async function ruleNames(prefix: string): Promise<string[]> {
  return ((await eventBridge.send(new ListRulesCommand({ NamePrefix: prefix }))).Rules ?? []).map((r) => r.Name ?? '').sort();
}

/** Everything apply manages, as AWS reports it (modification timestamps included). */
async function snapshot(): Promise<unknown> {
  const queues: Record<string, unknown> = {};
  for (const name of ['rotation-relay', 'rotation-relay-dlq', 'rotation-relay-events-dlq']) {
    const url = await queueUrl(name);
    const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes;
    queues[name] = { attributes, tags: (await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags };
  }
  const { $metadata: _m, ...rule } = await eventBridge.send(new DescribeRuleCommand({ Name: 'rotation-relay' }));
  const targets = (await eventBridge.send(new ListTargetsByRuleCommand({ Rule: 'rotation-relay' }))).Targets;
  const tags = (await eventBridge.send(new ListTagsForResourceCommand({ ResourceARN: rule.Arn }))).Tags;
  return { queues, rule, targets, tags };
}

/** Clients that record the name of every command they send. */
function recordingClients(): InfraClients & { calls: string[] } {
  const calls: string[] = [];
  const clients = { eventBridge: new EventBridgeClient(motoClientConfig(moto)), sqs: new SQSClient(motoClientConfig(moto)), calls };
  const options = { step: 'initialize', name: 'recordCommandNames' } as const;
  clients.eventBridge.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName ?? 'unknown');
      return next(args);
    },
    options,
  );
  clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName ?? 'unknown');
      return next(args);
    },
    options,
  );
  return clients;
}

beforeAll(async () => {
  moto = await startMoto();
  env = {
    AWS_REGION: moto.region,
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
  };
  eventBridge = new EventBridgeClient(motoClientConfig(moto));
  sqs = new SQSClient(motoClientConfig(moto));
  // A queue someone made by hand whose name starts with the stack's: destroy must keep it.
  await sqs.send(new CreateQueueCommand({ QueueName: 'rotation-relay-manual' }));
});

afterAll(async () => {
  eventBridge?.destroy();
  sqs?.destroy();
  await moto?.stop();
});

describe('rotation-relay infra against moto_server', () => {
  it('apply creates the queues, the rule and its target', async () => {
    // Act
    const { code, io } = await cli('apply', ...EVERY_SECRET);

    // Assess
    expect(code, io.text()).toBe(0);
    expect(io.outLines).toEqual(
      expect.arrayContaining([
        'created queue rotation-relay-dlq',
        'created queue rotation-relay-events-dlq',
        'created queue rotation-relay',
        'created rule rotation-relay',
        'added target rotation-relay/rotation-relay-queue',
        'applied 5 changes',
        `worker: ROTATION_RELAY_QUEUE_URL=${await queueUrl('rotation-relay')}`,
      ]),
    );
    const state = (await snapshot()) as {
      queues: Record<string, { attributes: Record<string, string>; tags: Record<string, string> }>;
      rule: { EventPattern: string; State: string; Arn: string };
      targets: unknown[];
    };
    const main = state.queues['rotation-relay'];
    expect(main?.attributes['SqsManagedSseEnabled']).toBe('true');
    expect(JSON.parse(main?.attributes['RedrivePolicy'] ?? '')).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:rotation-relay-dlq',
      maxReceiveCount: 5,
    });
    expect(JSON.parse(main?.attributes['Policy'] ?? '').Statement[0].Condition).toEqual({ ArnEquals: { 'aws:SourceArn': state.rule.Arn } });
    // Nobody but the rule may send, and nothing goes over plain HTTP: as stored by the emulator.
    const sids = (name: string) => (JSON.parse(state.queues[name]?.attributes['Policy'] ?? '{"Statement":[]}') as { Statement: Array<{ Sid: string }> }).Statement.map((st) => st.Sid);
    expect(sids('rotation-relay')).toEqual(['AllowEventBridgeRule', 'DenySendExceptRule', 'DenyInsecureTransport']);
    expect(sids('rotation-relay-dlq')).toEqual(['DenyInsecureTransport']);
    expect(sids('rotation-relay-events-dlq')).toEqual(['AllowEventBridgeRule', 'DenyInsecureTransport']);
    expect(main?.tags).toEqual({ 'managed-by': 'rotation-relay', 'rotation-relay:stack': 'rotation-relay' });
    expect(JSON.parse(state.rule.EventPattern)).toEqual(loadBasePattern());
    expect(state.rule.State).toBe('ENABLED');
    expect(state.targets).toEqual([
      {
        Id: 'rotation-relay-queue',
        Arn: 'arn:aws:sqs:us-east-1:123456789012:rotation-relay',
        DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1:123456789012:rotation-relay-events-dlq' },
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
      },
    ]);
  });

  it('a second apply reports no changes and changes nothing', async () => {
    // Prepare
    const before = await snapshot();

    // Act
    const { code, io } = await cli('apply', ...EVERY_SECRET);

    // Assess
    expect(code, io.text()).toBe(0);
    expect(io.outLines).toContain('no changes: 3 queues, rule rotation-relay and 1 target are up to date');
    expect(io.text()).not.toMatch(/created|updated|added|tagged|applied/);
    expect(await snapshot()).toEqual(before);
  });

  it('a second apply sends only read calls', async () => {
    // Prepare
    const clients = recordingClients();
    const account = await resolveAccount(clients.eventBridge);
    const desired = buildDesiredState({ name: 'rotation-relay', scope: { kind: 'all' }, maxReceiveCount: 5 }, account, loadBasePattern());

    // Act
    const plan = computePlan(desired, await observeState(clients, desired), { unreportedAttributes: EMULATOR_UNREPORTED_ATTRIBUTES });
    const applied = await applyPlan(clients, plan);

    // Assess
    expect(plan.changes).toEqual([]);
    expect(applied).toEqual([]);
    expect(clients.calls.length).toBeGreaterThan(0);
    expect(clients.calls.filter((name) => !READ_ONLY.test(name.replace(/Command$/, '')))).toEqual([]);
    clients.eventBridge.destroy();
    clients.sqs.destroy();
  });

  it('plan, as its own process, shows nothing to do', async () => {
    // Act
    const child = runCliProcess(['infra', 'plan', '--json', ...EVERY_SECRET], env);
    const code = await child.exited;

    // Assess
    expect(code, child.stderr().join('\n')).toBe(0);
    const plan = JSON.parse(child.stdout().join('\n')) as { counts: unknown; changes: unknown[]; account: string };
    expect(plan).toMatchObject({ changes: [], counts: { create: 0, update: 0, delete: 0 }, account: '123456789012' });
  });

  it('verify routes every sample as expected and removes its temporary rule and queue', async () => {
    // Act
    const { code, io } = await cli('verify', ...EVERY_SECRET);

    // Assess
    expect(code, io.text()).toBe(0);
    const rows = io.outLines.filter((line) => /\s(ok|FAIL)\b/.test(line) && !line.startsWith('check'));
    expect(rows).toHaveLength(8);
    for (const [sample, expected, actual] of [
      ['label-updated-awscurrent', 'route', 'routed'],
      ['rotation-succeeded', 'route', 'routed'],
      ['rotation-failed', 'route', 'routed'],
      ['put-secret-value ', 'route', 'routed'],
      ['put-secret-value-aRN', 'route', 'routed'],
      ['label-updated-awspending', 'no route', 'not routed'],
      ['lookalike-other-source', 'no route', 'not routed'],
    ] as const) {
      expect(rows.find((row) => row.startsWith(sample)), sample).toMatch(new RegExp(`\\s${expected}\\s+${actual}\\s+ok$`));
    }
    expect(io.outLines.at(-1)).toBe('verified: 8 of 8 samples as expected');
    expect(await ruleNames('rotation-relay-verify')).toEqual([]);
    expect(await queueNames('rotation-relay-verify')).toEqual([]);
  });

  it('verify --json reports each sample with expected and actual', async () => {
    // Act
    const { code, io } = await cli('verify', '--json', ...EVERY_SECRET);

    // Assess
    expect(code).toBe(0);
    const report = JSON.parse(io.outLines.join('\n')) as { ok: boolean; method: string; cases: Array<{ expected: string; actual: string; ok: boolean }> };
    expect(report.ok).toBe(true);
    expect(report.method).toBe('mirror');
    expect(report.cases.filter((c) => c.actual === 'routed')).toHaveLength(5);
  });

  it('plan shows a manual drift and apply repairs it', async () => {
    // Prepare: what an operator might do in the console (the policy is re-sent because moto
    // forgets it on any SetQueueAttributes that omits it; AWS keeps it).
    const url = await queueUrl('rotation-relay');
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Policy'] }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '99', Policy: Attributes?.['Policy'] ?? '' } }));
    await eventBridge.send(new DisableRuleCommand({ Name: 'rotation-relay' }));

    // Act
    const plan = await cli('plan', ...EVERY_SECRET);
    const apply = await cli('apply', ...EVERY_SECRET);
    const after = await cli('plan', ...EVERY_SECRET);

    // Assess
    expect(plan.code, plan.io.text()).toBe(0);
    expect(plan.io.outLines.slice(1)).toEqual([
      '  ~ queue rotation-relay',
      '      VisibilityTimeout: 99 → 30',
      '  ~ rule rotation-relay',
      '      State: DISABLED → ENABLED',
      '0 to create, 2 to update, 0 to delete',
    ]);
    expect(apply.io.outLines).toEqual(expect.arrayContaining(['updated attributes of queue rotation-relay', 'updated rule rotation-relay', 'applied 2 changes']));
    expect(after.io.outLines).toContain('no changes: 3 queues, rule rotation-relay and 1 target are up to date');
  });

  it('narrows the rule to a name prefix, and verify with the same flag proves it', async () => {
    // Act
    const apply = await cli('apply', '--secret-prefix', 'prod/', '--max-receive-count', '3');
    const verify = await cli('verify', '--secret-prefix', 'prod/');
    const reset = await cli('apply', ...EVERY_SECRET);

    // Assess
    expect(apply.code, apply.io.text()).toBe(0);
    expect(apply.io.outLines).toEqual(
      expect.arrayContaining([
        '      RedrivePolicy.maxReceiveCount: 5 → 3',
        '      EventPattern.$or[0].resources: (none) → [{"prefix":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/"}]',
      ]),
    );
    expect(verify.code, verify.io.text()).toBe(0);
    expect(verify.io.outLines.at(-1)).toBe('verified: 13 of 13 samples as expected');
    expect(reset.io.outLines).toContain('applied 2 changes');
  });

  it('verify fails, showing which samples, when the rule does not route what it must', async () => {
    // Prepare: the rule narrowed to a prefix no sample uses, verified as if it forwarded everything.
    await cli('apply', '--secret-prefix', 'nothing-here/');

    // Act
    const { code, io } = await cli('verify', '--wait-seconds', '2', ...EVERY_SECRET);
    await cli('apply', ...EVERY_SECRET);

    // Assess
    expect(code).toBe(1);
    expect(io.outLines.find((line) => line.startsWith('rotation-succeeded'))).toMatch(/\sroute\s+not routed\s+FAIL$/);
    expect(io.outLines.at(-1)).toMatch(/^verify FAILED: 3 of 8 samples as expected/);
    expect(io.text()).toMatch(/note: the rule's pattern is not infra\/event-pattern.json narrowed as these flags say/);
  });

  it('apply refuses a queue with the stack name that it did not create, and writes nothing', async () => {
    // Prepare
    await sqs.send(new CreateQueueCommand({ QueueName: 'hand-made' }));

    // Act
    const { code, io } = await cli('apply', '--name', 'hand-made', ...EVERY_SECRET);

    // Assess
    expect(code).toBe(1);
    expect(io.errLines.join('\n')).toMatch(/queue hand-made already exists and is not tagged managed-by=rotation-relay/);
    expect(await ruleNames('hand-made')).toEqual([]);
    expect(await queueNames('hand-made')).toEqual(['hand-made']);
  });

  it('apply without a scope exits 2, names the flags, and creates nothing', async () => {
    // Act
    const { code, io } = await cli('apply', '--name', 'unscoped');

    // Assess
    expect(code).toBe(2);
    expect(io.errLines.join('\n')).toMatch(/say which secrets to forward: --secret-prefix PREFIX or --secret-arn ARN .*--secret-prefix '\*' forwards every secret/);
    expect(await ruleNames('unscoped')).toEqual([]);
    expect(await queueNames('unscoped')).toEqual([]);
  });

  it('destroy refuses while a DLQ holds a message, and deletes nothing', async () => {
    // Prepare: a message the worker rejected, not looked at yet.
    const dlq = await queueUrl('rotation-relay-dlq');
    await sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: '{"rejected":"body"}' }));

    // Act
    const { code, io } = await cli('destroy');

    // Assess
    expect(code).toBe(1);
    expect(io.errLines.join('\n')).toMatch(/nothing destroyed: rotation-relay-dlq holds 1 message\. Look at them first .* or add --force/);
    expect(io.outLines.join('\n')).not.toMatch(/deleted/);
    expect(await ruleNames('rotation-relay')).toEqual(['rotation-relay']);
    expect(await queueNames('rotation-relay')).toEqual(['rotation-relay', 'rotation-relay-dlq', 'rotation-relay-events-dlq', 'rotation-relay-manual']);

    // The operator looks at the message and deletes it: the next test destroys an empty stack.
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10 }));
    for (const message of Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: message.ReceiptHandle }));
  });

  it('destroy --force deletes a stack whose events DLQ holds messages, messages included', async () => {
    // Prepare
    expect((await cli('apply', '--name', 'forced', '--secret-prefix', 'prod/')).code).toBe(0);
    await sqs.send(new SendMessageCommand({ QueueUrl: await queueUrl('forced-events-dlq'), MessageBody: '{"undelivered":"event"}' }));

    // Act
    const refused = await cli('destroy', '--name', 'forced');
    const forced = await cli('destroy', '--name', 'forced', '--force');

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.io.errLines.join('\n')).toMatch(/nothing destroyed: forced-events-dlq holds 1 message/);
    expect(forced.code, forced.io.text()).toBe(0);
    expect(forced.io.outLines).toEqual(expect.arrayContaining(['  - deleted queue forced-events-dlq', 'destroyed 4 resources']));
    expect(await ruleNames('forced')).toEqual([]);
    expect(await queueNames('forced')).toEqual([]);
  });

  it('destroy removes what it created and leaves an untagged queue alone', async () => {
    // Act
    const { code, io } = await cli('destroy');
    const again = await cli('destroy');

    // Assess
    expect(code, io.text()).toBe(0);
    expect(io.outLines).toEqual(
      expect.arrayContaining([
        '  - deleted rule rotation-relay',
        '  - deleted queue rotation-relay',
        '  - deleted queue rotation-relay-dlq',
        '  - deleted queue rotation-relay-events-dlq',
        '  = kept queue rotation-relay-manual (not tagged managed-by=rotation-relay and rotation-relay:stack=rotation-relay)',
        'destroyed 4 resources',
      ]),
    );
    expect(await ruleNames('rotation-relay')).toEqual([]);
    expect(await queueNames('rotation-relay')).toEqual(['rotation-relay-manual']);
    expect(await queueNames('hand-made')).toEqual(['hand-made']);
    expect(again.io.outLines).toContain('nothing to destroy: no rule or queue is tagged with stack rotation-relay');
  });
});
