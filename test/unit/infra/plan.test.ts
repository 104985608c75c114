import { describe, expect, it } from 'vitest';
import {
  buildDesiredState,
  computePlan,
  EMULATOR_UNREPORTED_ATTRIBUTES,
  formatPlan,
  InfraError,
  loadBasePattern,
  planCounts,
  type AccountContext,
  type DesiredState,
  type InfraOptions,
  type ObservedState,
} from '../../../src/ops/infra/index.js';

const CTX: AccountContext = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' };
const OPTIONS: InfraOptions = { name: 'relay', scope: { kind: 'all' }, maxReceiveCount: 5 };

function desired(options: Partial<InfraOptions> = {}): DesiredState {
  return buildDesiredState({ ...OPTIONS, ...options }, CTX, loadBasePattern());
}

/** What AWS would return once `state` is applied: JSON re-serialized, extra read-only attributes. */
function observedFrom(state: DesiredState): ObservedState {
  return {
    queues: new Map(
      state.queues.map((q) => [
        q.name,
        {
          name: q.name,
          url: `https://sqs.eu-west-1.amazonaws.com/111122223333/${q.name}`,
          attributes: { ...q.attributes, QueueArn: q.arn, ApproximateNumberOfMessages: '0', DelaySeconds: '0' },
          tags: { ...q.tags },
        },
      ]),
    ),
    rule: {
      name: state.rule.name,
      arn: state.rule.arn,
      eventPattern: JSON.stringify(JSON.parse(JSON.stringify(state.rule.pattern)), null, 1),
      state: 'ENABLED',
      description: state.rule.description,
      tags: { ...state.rule.tags },
      targets: state.rule.targets.map((t) => structuredClone(t)),
    },
  };
}

describe('computePlan', () => {
  it('plans every resource when nothing exists, DLQs before the queue that names them', () => {
    // Act
    const plan = computePlan(desired(), { queues: new Map(), rule: undefined });

    // Assess
    expect(plan.changes.map((c) => `${c.action} ${c.resource}`)).toEqual([
      'create queue relay-dlq',
      'create queue relay-events-dlq',
      'create queue relay',
      'create rule relay',
      'create target relay/rotation-relay-queue',
    ]);
  });

  it('plans nothing when AWS has exactly what we want, whatever the JSON spelling', () => {
    // Prepare
    const state = desired();
    const observed = observedFrom(state);
    const queue = observed.queues.get('relay');
    if (!queue) throw new Error('no queue');
    // AWS may return a policy with arrays around single values and keys in another order.
    const policy = JSON.parse(queue.attributes['Policy'] ?? '{}') as { Statement: Array<Record<string, unknown>> };
    queue.attributes['Policy'] = JSON.stringify({
      Statement: policy.Statement.map((s) => ({ ...s, Action: [s['Action']], Resource: [s['Resource']] })),
      Version: '2012-10-17',
    });
    queue.attributes['RedrivePolicy'] = JSON.stringify({ maxReceiveCount: '5', deadLetterTargetArn: state.queues[0]?.arn });

    // Act
    const plan = computePlan(state, observed);

    // Assess
    expect(plan.changes).toEqual([]);
    expect(formatPlan(plan, 'plan:').at(-1)).toMatch(/^no changes: 3 queues, rule relay and 1 target are up to date$/);
  });

  it('shows drift field by field and re-sends the unchanged queue policy with the change', () => {
    // Prepare
    const observed = observedFrom(desired());
    const queue = observed.queues.get('relay');
    if (!queue || !observed.rule) throw new Error('incomplete');
    queue.attributes['RedrivePolicy'] = JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:111122223333:relay-dlq', maxReceiveCount: 2 });
    observed.rule.state = 'DISABLED';

    // Act
    const plan = computePlan(desired(), observed);

    // Assess
    expect(formatPlan(plan, 'plan:')).toEqual([
      'plan:',
      '  ~ queue relay',
      '      RedrivePolicy.maxReceiveCount: 2 → 5',
      '  ~ rule relay',
      '      State: DISABLED → ENABLED',
      '0 to create, 2 to update, 0 to delete',
    ]);
    const change = plan.changes[0];
    expect(change?.op === 'set-queue-attributes' && Object.keys(change.attributes).sort()).toEqual(['Policy', 'RedrivePolicy']);
  });

  it('updates the pattern when the scope changes, and removes targets it did not put', () => {
    // Prepare
    const observed = observedFrom(desired());
    observed.rule?.targets.push({ Id: 'extra', Arn: 'arn:aws:lambda:eu-west-1:111122223333:function:f' });

    // Act
    const plan = computePlan(desired({ scope: { kind: 'prefix', prefix: 'prod/' } }), observed);

    // Assess
    expect(plan.changes.map((c) => `${c.action} ${c.resource}`)).toEqual(['update rule relay', 'delete target relay/extra']);
    expect(plan.changes[0]?.fields.map((f) => f.field)).toEqual([
      'EventPattern.$or[0].resources',
      'EventPattern.$or[1].detail.additionalEventData',
      'EventPattern.$or[2].detail.$or',
    ]);
    expect(planCounts(plan)).toEqual({ create: 0, update: 1, delete: 1 });
  });

  it('re-puts a target that was changed by hand (a RoleArn added, the DLQ removed)', () => {
    // Prepare
    const observed = observedFrom(desired());
    const target = observed.rule?.targets[0];
    if (!target) throw new Error('no target');
    target.RoleArn = 'arn:aws:iam::111122223333:role/x';
    delete target.DeadLetterConfig;

    // Act
    const plan = computePlan(desired(), observed);

    // Assess
    expect(plan.changes.map((c) => `${c.action} ${c.resource}`)).toEqual(['update target relay/rotation-relay-queue']);
    expect(plan.changes[0]?.fields.map((f) => f.field)).toEqual(['DeadLetterConfig', 'RoleArn']);
  });

  it('re-tags a resource whose stack tag was removed', () => {
    // Prepare
    const observed = observedFrom(desired());
    const dlq = observed.queues.get('relay-dlq');
    if (dlq) delete dlq.tags['rotation-relay:stack'];

    // Act
    const plan = computePlan(desired(), observed);

    // Assess
    expect(plan.changes.map((c) => [c.op, c.resource])).toEqual([['tag-queue', 'queue relay-dlq']]);
  });

  it('refuses to touch a resource with its name that rotation-relay did not create', () => {
    // Prepare
    const observed = observedFrom(desired());
    const queue = observed.queues.get('relay');
    if (queue) queue.tags = { team: 'payments' };

    // Act + Assess
    expect(() => computePlan(desired(), observed)).toThrow(InfraError);
    expect(() => computePlan(desired(), observed)).toThrow(/queue relay already exists and is not tagged managed-by=rotation-relay/);
  });

  it('refuses a resource of another rotation-relay stack', () => {
    // Prepare
    const observed = observedFrom(desired());
    if (observed.rule) observed.rule.tags['rotation-relay:stack'] = 'other';

    // Act + Assess
    expect(() => computePlan(desired(), observed)).toThrow(/belongs to rotation-relay stack "other"/);
  });

  it('warns above the default pattern quota and refuses above the hard limit', () => {
    // Prepare
    const arn = (i: number) => `arn:aws:secretsmanager:eu-west-1:111122223333:secret:application/secret-number-${i}-AbCdEf`;
    const many = (n: number) => desired({ scope: { kind: 'arns', arns: Array.from({ length: n }, (_, i) => arn(i)) } });

    // Act + Assess
    expect(computePlan(many(8), { queues: new Map(), rule: undefined }).warnings[0]).toMatch(/default quota is 2048/);
    expect(() => computePlan(many(20), { queues: new Map(), rule: undefined })).toThrow(/over EventBridge's limit of 4096/);
  });
});

describe('computePlan: attributes an emulator does not report', () => {
  it('sets a missing RedriveAllowPolicy on AWS, and counts it as up to date only for an endpoint said not to report it', () => {
    // Prepare: what moto_server answers, which takes RedriveAllowPolicy but never returns it.
    const state = desired();
    const observed = observedFrom(state);
    const dlq = observed.queues.get('relay-dlq');
    if (!dlq) throw new Error('no dlq');
    delete dlq.attributes['RedriveAllowPolicy'];

    // Act
    const onAws = computePlan(state, observed);
    const onEmulator = computePlan(state, observed, { unreportedAttributes: EMULATOR_UNREPORTED_ATTRIBUTES });

    // Assess
    expect(formatPlan(onAws, 'plan:')).toEqual([
      'plan:',
      '  ~ queue relay-dlq',
      '      RedriveAllowPolicy: (none) → {"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:eu-west-1:111122223333:relay"]}',
      '0 to create, 1 to update, 0 to delete',
    ]);
    expect(onEmulator.changes).toEqual([]);
  });

  it('still repairs a RedriveAllowPolicy that differs, even for such an endpoint', () => {
    // Prepare
    const state = desired();
    const observed = observedFrom(state);
    const dlq = observed.queues.get('relay-dlq');
    if (!dlq) throw new Error('no dlq');
    dlq.attributes['RedriveAllowPolicy'] = JSON.stringify({ redrivePermission: 'allowAll' });

    // Act
    const plan = computePlan(state, observed, { unreportedAttributes: EMULATOR_UNREPORTED_ATTRIBUTES });

    // Assess
    expect(plan.changes.map((c) => `${c.action} ${c.resource}`)).toEqual(['update queue relay-dlq']);
    expect(plan.changes[0]?.fields.map((f) => f.field)).toEqual(['RedriveAllowPolicy.redrivePermission', 'RedriveAllowPolicy.sourceQueueArns']);
  });
});

describe('buildDesiredState', () => {
  it('denies SendMessage on the queue to all but the rule and the redrive principals, plain HTTP on every queue, and lets only the queue use its DLQ', () => {
    // Act
    const state = desired({ redrivePrincipals: ['arn:aws:iam::111122223333:role/ops'] });
    const policyOf = (name: string) => JSON.parse(state.queues.find((q) => q.name === name)?.attributes['Policy'] ?? '{}') as { Statement: Array<Record<string, unknown>> };

    // Assess
    expect(policyOf('relay').Statement.find((s) => s['Sid'] === 'DenySendExceptRule')).toEqual({
      Sid: 'DenySendExceptRule',
      Effect: 'Deny',
      Principal: '*',
      Action: 'sqs:SendMessage',
      Resource: 'arn:aws:sqs:eu-west-1:111122223333:relay',
      Condition: { ArnNotEquals: { 'aws:SourceArn': 'arn:aws:events:eu-west-1:111122223333:rule/relay', 'aws:PrincipalArn': ['arn:aws:iam::111122223333:role/ops'] } },
    });
    for (const queue of state.queues) {
      expect(policyOf(queue.name).Statement).toContainEqual({
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sqs:*',
        Resource: queue.arn,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
    }
    const dlq = state.queues.find((q) => q.name === 'relay-dlq');
    expect(JSON.parse(dlq?.attributes['RedriveAllowPolicy'] ?? '')).toEqual({ redrivePermission: 'byQueue', sourceQueueArns: ['arn:aws:sqs:eu-west-1:111122223333:relay'] });
  });

  it('exempts no principal from the Deny by default', () => {
    // Act
    const policy = JSON.parse(desired().queues.find((q) => q.name === 'relay')?.attributes['Policy'] ?? '{}') as { Statement: Array<Record<string, unknown>> };

    // Assess
    expect(policy.Statement.find((s) => s['Sid'] === 'DenySendExceptRule')?.['Condition']).toEqual({
      ArnNotEquals: { 'aws:SourceArn': 'arn:aws:events:eu-west-1:111122223333:rule/relay' },
    });
  });

  it('wants SSE everywhere, a redrive to the DLQ and queue policies bound to the rule ARN', () => {
    // Act
    const state = desired({ maxReceiveCount: 9 });

    // Assess
    for (const queue of state.queues) expect(queue.attributes['SqsManagedSseEnabled']).toBe('true');
    const main = state.queues.find((q) => q.name === 'relay');
    expect(JSON.parse(main?.attributes['RedrivePolicy'] ?? '')).toEqual({ deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:111122223333:relay-dlq', maxReceiveCount: 9 });
    for (const name of ['relay', 'relay-events-dlq']) {
      const policy = JSON.parse(state.queues.find((q) => q.name === name)?.attributes['Policy'] ?? '') as { Statement: Array<Record<string, unknown>> };
      expect(policy.Statement[0]?.['Condition']).toEqual({ ArnEquals: { 'aws:SourceArn': 'arn:aws:events:eu-west-1:111122223333:rule/relay' } });
    }
    expect(state.rule.targets[0]).not.toHaveProperty('RoleArn');
    expect(state.rule.tags).toEqual({ 'managed-by': 'rotation-relay', 'rotation-relay:stack': 'relay' });
  });
});
