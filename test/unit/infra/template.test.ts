import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  deadLetterQueuePolicy,
  eventBridgeQueuePolicy,
  INFRA_DEFAULTS,
  loadBasePattern,
  narrowPattern,
  redriveAllowPolicy,
  SAMPLE_FILES,
  SAMPLES_URL,
  scopeFilter,
  workerQueuePolicy,
} from '../../../src/ops/infra/index.js';
import { normalizePolicy } from '../../../src/ops/infra/json.js';
import { ALL_METRIC_NAMES, METRIC_NAMESPACE, MetricNames } from '../../../src/metrics/index.js';
import { requireBinary } from '../../support/require-binary.js';
import { runCommand } from '../../support/run-command.js';
import { DEFAULT_ENVIRONMENT, Evaluator, loadTemplate, referencedNames, TEMPLATE_URL } from '../../support/cloudformation.js';

const template = loadTemplate();
const ENV = DEFAULT_ENVIRONMENT;
const ARN_A = `arn:aws:secretsmanager:${ENV.region}:${ENV.accountId}:secret:prod/db-AbCdEf`;
const ARN_B = `arn:aws:secretsmanager:${ENV.region}:${ENV.accountId}:secret:prod/cache-GhIjKl`;
const KMS_KEY = `arn:aws:kms:${ENV.region}:${ENV.accountId}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const REDRIVER = `arn:aws:iam::${ENV.accountId}:role/ops-redrive`;

/**
 * The parameter sets every structural check runs under: each branch of every condition. The
 * defaults are not one of them: rule SecretScopeGiven refuses them (see "secret scope").
 */
const PARAMETER_SETS: Record<string, Record<string, string>> = {
  'every secret (*)': { SecretNamePrefix: '*' },
  'secret ARNs': { SecretArns: `${ARN_A},${ARN_B}` },
  'name prefix': { SecretNamePrefix: 'prod/' },
  'KMS key and alarm topic': { SecretNamePrefix: 'prod/', KmsKeyArn: KMS_KEY, AlarmTopicArn: `arn:aws:sns:${ENV.region}:${ENV.accountId}:ops` },
  'redrive principals': { SecretNamePrefix: 'prod/', RedrivePrincipalArns: `${REDRIVER},arn:aws:iam::${ENV.accountId}:user/alice` },
};

/** Metrics AWS/SQS publishes for every queue; the dashboard and alarms may use these. */
const SQS_METRICS = new Set([
  'ApproximateAgeOfOldestMessage',
  'ApproximateNumberOfMessagesVisible',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'NumberOfMessagesSent',
  'NumberOfMessagesReceived',
  'NumberOfMessagesDeleted',
  'NumberOfEmptyReceives',
  'SentMessageSize',
]);

/** Metrics the code defines but emits nothing for yet (none since fleet convergence emits InstancesStale). */
const RESERVED_METRICS = new Set<string>([]);

function resourcesOfType(type: string): string[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id]) => id);
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: string | string[]; Principal?: unknown; Condition?: Record<string, Record<string, unknown>> };

function statements(evaluator: Evaluator, logicalId: string, property = 'PolicyDocument'): Statement[] {
  const document = evaluator.properties(logicalId)[property] as { Statement: Statement[] };
  return document.Statement;
}

const asList = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

describe('infra/rotation-relay.yaml', () => {
  it('parses with the short-form tags and every reference names a parameter, resource or pseudo parameter', () => {
    // Assess
    expect(template.Resources).toBeTypeOf('object');
    const known = new Set([...Object.keys(template.Parameters), ...Object.keys(template.Resources), 'AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::StackName', 'AWS::NoValue']);
    const referenced = referencedNames({ Resources: template.Resources, Outputs: template.Outputs, Conditions: template.Conditions });
    expect([...referenced].filter((name) => !known.has(name))).toEqual([]);
    // Every condition evaluates under every parameter set.
    for (const parameters of Object.values(PARAMETER_SETS)) {
      const evaluator = new Evaluator(template, parameters);
      for (const name of Object.keys(template.Conditions)) expect(typeof evaluator.condition(name)).toBe('boolean');
    }
  });

  it('passes cfn-lint: CloudFormation\'s own resource schemas, intrinsic functions and Rules assertions', async () => {
    // The evaluator below checks what the template means; cfn-lint checks it is a template AWS takes.
    const cfnLint = requireBinary('cfn-lint', 'pip install cfn-lint');

    // Act
    const output = await runCommand(cfnLint, ['--format', 'parseable', fileURLToPath(TEMPLATE_URL)], { timeoutMs: 120_000 });

    // Assess
    expect(output.trim()).toBe('');
  }, 130_000);

  it('gives every parameter a default, and the CLI defaults where both have the setting', () => {
    // Assess
    for (const [name, parameter] of Object.entries(template.Parameters)) expect(parameter.Default, name).toBeDefined();
    const p = template.Parameters;
    expect(p['Name']?.Default).toBe(INFRA_DEFAULTS.name);
    expect(p['MaxReceiveCount']?.Default).toBe(INFRA_DEFAULTS.maxReceiveCount);
    expect(p['VisibilityTimeoutSeconds']?.Default).toBe(INFRA_DEFAULTS.visibilityTimeoutSeconds);
    expect(p['MessageRetentionSeconds']?.Default).toBe(INFRA_DEFAULTS.messageRetentionSeconds);
    expect(p['EventRetryAttempts']?.Default).toBe(INFRA_DEFAULTS.eventRetryAttempts);
    expect(p['EventMaxAgeSeconds']?.Default).toBe(INFRA_DEFAULTS.eventMaxAgeSeconds);
  });

  describe('event pattern', () => {
    const base = loadBasePattern();
    const ctx = { partition: ENV.partition, region: ENV.region, accountId: ENV.accountId };

    it('is infra/event-pattern.json itself when every secret is asked for (SecretNamePrefix=*)', () => {
      // Act
      const pattern = new Evaluator(template, { SecretNamePrefix: '*' }).properties('Rule')['EventPattern'];

      // Assess
      expect(pattern).toEqual(base);
    });

    it.each([
      ['secret ARNs', { SecretArns: `${ARN_A},${ARN_B}` }, { kind: 'arns' as const, arns: [ARN_A, ARN_B] }],
      ['a name prefix', { SecretNamePrefix: 'prod/' }, { kind: 'prefix' as const, prefix: 'prod/' }],
      ['both (ARNs win)', { SecretArns: ARN_A, SecretNamePrefix: 'prod/' }, { kind: 'arns' as const, arns: [ARN_A] }],
    ])('narrowed to %s, is what the CLI puts (each family filtered on its own field)', (_label, parameters, scope) => {
      // Act
      const pattern = new Evaluator(template, parameters).properties('Rule')['EventPattern'];

      // Assess
      expect(pattern).toEqual(narrowPattern(base, scopeFilter(scope, ctx)));
    });
  });

  describe('queues', () => {
    const evaluator = new Evaluator(template, { MaxReceiveCount: '7' });

    it('turn SSE on for every queue', () => {
      for (const id of resourcesOfType('AWS::SQS::Queue')) expect(evaluator.properties(id)['SqsManagedSseEnabled'], id).toBe(true);
    });

    it('redrive the main queue to the DLQ after MaxReceiveCount receives', () => {
      // Act
      const queue = evaluator.properties('Queue');

      // Assess
      expect(queue['RedrivePolicy']).toEqual({ deadLetterTargetArn: evaluator.evaluate({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] }), maxReceiveCount: 7 });
      expect(queue['VisibilityTimeout']).toBe(INFRA_DEFAULTS.visibilityTimeoutSeconds);
    });

    it('let events.amazonaws.com send only on behalf of this rule (aws:SourceArn), to every queue the rule delivers to', () => {
      // Prepare
      const ruleArn = evaluator.evaluate({ 'Fn::GetAtt': ['Rule', 'Arn'] });
      const rule = evaluator.properties('Rule');
      const target = (rule['Targets'] as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
      const deliveredTo = [target['Arn'], (target['DeadLetterConfig'] as { Arn: string }).Arn];
      const policies = resourcesOfType('AWS::SQS::QueuePolicy').map((id) => evaluator.properties(id));

      // Assess
      for (const queueArn of deliveredTo) {
        const policy = policies.find((p) => (p['PolicyDocument'] as { Statement: Statement[] }).Statement.some((s) => s.Resource === queueArn));
        expect(policy, `a queue policy for ${String(queueArn)}`).toBeDefined();
        const statement = (policy?.['PolicyDocument'] as { Statement: Statement[] }).Statement[0] as Statement;
        expect(statement).toMatchObject({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' });
        expect(statement.Condition).toEqual({ ArnEquals: { 'aws:SourceArn': ruleArn } });
      }
    });
  });

  describe('rule target', () => {
    const rule = new Evaluator(template).properties('Rule');
    const targets = rule['Targets'] as Array<Record<string, unknown>>;

    it('is the queue, with no RoleArn (SQS targets are authorised by the queue policy)', () => {
      expect(targets).toHaveLength(1);
      expect(targets[0]?.['Arn']).toBe(new Evaluator(template).evaluate({ 'Fn::GetAtt': ['Queue', 'Arn'] }));
      expect(targets[0]).not.toHaveProperty('RoleArn');
    });

    it('has a dead-letter queue for undeliverable events and a retry policy', () => {
      expect(targets[0]?.['DeadLetterConfig']).toEqual({ Arn: new Evaluator(template).evaluate({ 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] }) });
      expect(targets[0]?.['RetryPolicy']).toEqual({
        MaximumRetryAttempts: INFRA_DEFAULTS.eventRetryAttempts,
        MaximumEventAgeInSeconds: INFRA_DEFAULTS.eventMaxAgeSeconds,
      });
    });
  });

  describe('IAM', () => {
    const policyResources = [...resourcesOfType('AWS::IAM::ManagedPolicy'), ...resourcesOfType('AWS::SQS::QueuePolicy')];

    it.each(Object.entries(PARAMETER_SETS))('uses no * action and no * resource AWS does not require (%s)', (_label, parameters) => {
      // Prepare
      const evaluator = new Evaluator(template, parameters);
      // A secret's ARN ends in 6 random characters, so a name prefix (or "every secret") needs a
      // trailing * — the only wildcard allowed, and only with explicit region and account.
      const secretWildcard = new RegExp(`^arn:aws:secretsmanager:${ENV.region}:${ENV.accountId}:secret:[^*]*\\*$`);

      // Assess
      for (const id of policyResources) {
        for (const statement of statements(evaluator, id)) {
          // A wildcard action only ever takes away: in the Deny of plain-HTTP requests, nowhere else.
          const wildcardAllowed = statement.Effect === 'Deny' && statement.Sid === 'DenyInsecureTransport';
          for (const action of asList(statement.Action)) {
            if (wildcardAllowed) expect(action, `${id} ${statement.Sid ?? ''}`).toBe('sqs:*');
            else expect(action, `${id} ${statement.Sid ?? ''}`).not.toContain('*');
          }
          for (const resource of asList(statement.Resource)) {
            if (resource.includes('*')) expect(resource, `${id} ${statement.Sid ?? ''}`).toMatch(secretWildcard);
          }
        }
      }
    });

    it('never grants cloudwatch:PutMetricData (metrics go through logs as EMF)', () => {
      for (const parameters of Object.values(PARAMETER_SETS)) {
        const evaluator = new Evaluator(template, parameters);
        for (const id of policyResources) {
          for (const statement of statements(evaluator, id)) expect(asList(statement.Action)).not.toContain('cloudwatch:PutMetricData');
        }
      }
    });

    it('lets the worker consume its queue, dead-letter what it rejects and describe the watched secrets, never read them', () => {
      // Prepare
      const evaluator = new Evaluator(template, PARAMETER_SETS['secret ARNs']);

      // Act
      const worker = statements(evaluator, 'WorkerPolicy');

      // Assess
      expect(worker.flatMap((s) => asList(s.Action)).sort()).toEqual(
        [
          'secretsmanager:DescribeSecret',
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:ReceiveMessage',
          'sqs:GetQueueUrl',
          'sqs:SendMessage',
        ].sort(),
      );
      const describe = worker.find((s) => asList(s.Action).includes('secretsmanager:DescribeSecret'));
      expect(describe?.Resource).toEqual([ARN_A, ARN_B]);
      const sqs = worker.find((s) => asList(s.Action).includes('sqs:ReceiveMessage'));
      expect(sqs?.Resource).toBe(evaluator.evaluate({ 'Fn::GetAtt': ['Queue', 'Arn'] }));
    });

    it('lets the worker send to the DLQ only (a rejected body on its first receive), never to its own queue', () => {
      // Prepare
      const evaluator = new Evaluator(template, PARAMETER_SETS['name prefix']);
      const dlqArn = evaluator.evaluate({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });

      // Act
      const send = statements(evaluator, 'WorkerPolicy').filter((s) => asList(s.Action).includes('sqs:SendMessage'));

      // Assess: the worker finds the DLQ by name (GetQueueUrl) from the queue's RedrivePolicy.
      expect(send).toEqual([{ Sid: 'DeadLetterRejected', Effect: 'Allow', Action: ['sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: dlqArn }]);
      expect(evaluator.properties('Queue')['RedrivePolicy']).toMatchObject({ deadLetterTargetArn: dlqArn });
    });

    it('lets app instances read their secrets, with kms:Decrypt only on the given key through Secrets Manager', () => {
      // Act
      const without = statements(new Evaluator(template, { SecretNamePrefix: 'prod/' }), 'AppPolicy');
      const withKey = statements(new Evaluator(template, { SecretNamePrefix: 'prod/', KmsKeyArn: KMS_KEY }), 'AppPolicy');

      // Assess
      expect(without.flatMap((s) => asList(s.Action))).toEqual(['secretsmanager:GetSecretValue']);
      expect(without[0]?.Resource).toBe(`arn:aws:secretsmanager:${ENV.region}:${ENV.accountId}:secret:prod/*`);
      const decrypt = withKey.find((s) => asList(s.Action).includes('kms:Decrypt'));
      expect(decrypt?.Resource).toBe(KMS_KEY);
      expect(decrypt?.Condition).toEqual({ StringEquals: { 'kms:ViaService': `secretsmanager.${ENV.region}.amazonaws.com` } });
    });
  });

  describe('secret scope', () => {
    it('refuses an empty scope (the defaults), naming the parameters and the * that asks for every secret', () => {
      // Act
      const failed = new Evaluator(template).failedRules();
      const emptyList = new Evaluator(template, { SecretArns: '', SecretNamePrefix: '' }).failedRules();

      // Assess
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatch(/^SecretScopeGiven: Give SecretArns or SecretNamePrefix \(SecretNamePrefix=\* for every secret/);
      expect(emptyList).toEqual(failed);
    });

    it.each(Object.entries(PARAMETER_SETS))('accepts an explicit scope (%s)', (_label, parameters) => {
      expect(new Evaluator(template, parameters).failedRules()).toEqual([]);
    });

    it('accepts * and nothing else that is not a name prefix as SecretNamePrefix', () => {
      // Prepare
      const pattern = new RegExp(String(template.Parameters['SecretNamePrefix']?.['AllowedPattern']));

      // Assess
      expect(pattern.test('*')).toBe(true);
      expect(pattern.test('prod/')).toBe(true);
      expect(pattern.test('prod/*')).toBe(false);
      expect(pattern.test('**')).toBe(false);
    });

    it('forwards, describes and lets apps read every secret only with SecretNamePrefix=*, and only the prefix otherwise', () => {
      // Prepare
      const every = new Evaluator(template, { SecretNamePrefix: '*' });
      const prefix = new Evaluator(template, { SecretNamePrefix: 'prod/' });
      const all = `arn:aws:secretsmanager:${ENV.region}:${ENV.accountId}:secret:*`;

      // Assess
      expect(statements(every, 'AppPolicy')[0]?.Resource).toBe(all);
      expect(statements(every, 'WorkerPolicy').find((s) => s.Sid === 'DescribeWatchedSecrets')?.Resource).toBe(all);
      expect(statements(prefix, 'AppPolicy')[0]?.Resource).toBe(`arn:aws:secretsmanager:${ENV.region}:${ENV.accountId}:secret:prod/*`);
      expect(statements(prefix, 'WorkerPolicy').find((s) => s.Sid === 'DescribeWatchedSecrets')?.Resource).toBe(
        `arn:aws:secretsmanager:${ENV.region}:${ENV.accountId}:secret:prod/*`,
      );
    });
  });

  describe('queue policies', () => {
    const queuePolicyOf = (evaluator: Evaluator, queueId: string): Statement[] => {
      const queueUrl = evaluator.evaluate({ Ref: queueId });
      const id = resourcesOfType('AWS::SQS::QueuePolicy').find((candidate) => (evaluator.properties(candidate)['Queues'] as unknown[]).includes(queueUrl));
      if (id === undefined) throw new Error(`no queue policy for ${queueId}`);
      return statements(evaluator, id);
    };

    it('deny sqs:SendMessage on the queue to every principal but the rule (aws:SourceArn)', () => {
      // Prepare
      const evaluator = new Evaluator(template, PARAMETER_SETS['name prefix']);
      const ruleArn = evaluator.evaluate({ 'Fn::GetAtt': ['Rule', 'Arn'] });

      // Act
      const deny = queuePolicyOf(evaluator, 'Queue').find((s) => s.Effect === 'Deny' && asList(s.Action).includes('sqs:SendMessage'));

      // Assess
      expect(deny).toEqual({
        Sid: 'DenySendExceptRule',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sqs:SendMessage',
        Resource: evaluator.evaluate({ 'Fn::GetAtt': ['Queue', 'Arn'] }),
        Condition: { ArnNotEquals: { 'aws:SourceArn': ruleArn } },
      });
    });

    it('exempt from that Deny only the RedrivePrincipalArns, who may redrive the DLQ into the queue', () => {
      // Prepare
      const evaluator = new Evaluator(template, PARAMETER_SETS['redrive principals']);

      // Act
      const deny = queuePolicyOf(evaluator, 'Queue').find((s) => s.Sid === 'DenySendExceptRule');

      // Assess
      expect(deny?.Condition).toEqual({
        ArnNotEquals: { 'aws:SourceArn': evaluator.evaluate({ 'Fn::GetAtt': ['Rule', 'Arn'] }), 'aws:PrincipalArn': [REDRIVER, `arn:aws:iam::${ENV.accountId}:user/alice`] },
      });
    });

    it.each(Object.entries(PARAMETER_SETS))("deny nothing the worker's SendMessage to the DLQ needs: only plain HTTP is refused there (%s)", (_label, parameters) => {
      // Prepare
      const evaluator = new Evaluator(template, parameters);

      // Act
      const denies = queuePolicyOf(evaluator, 'DeadLetterQueue').filter((s) => s.Effect === 'Deny');

      // Assess: the DenySendExceptRule of the queue names the queue, never the DLQ.
      expect(denies.map((s) => s.Condition)).toEqual([{ Bool: { 'aws:SecureTransport': 'false' } }]);
      expect(queuePolicyOf(evaluator, 'Queue').find((s) => s.Sid === 'DenySendExceptRule')?.Resource).toBe(evaluator.evaluate({ 'Fn::GetAtt': ['Queue', 'Arn'] }));
    });

    it.each(['Queue', 'DeadLetterQueue', 'EventsDeadLetterQueue'])('deny every request over plain HTTP to %s (aws:SecureTransport false)', (queueId) => {
      // Prepare
      const evaluator = new Evaluator(template, PARAMETER_SETS['name prefix']);

      // Act
      const deny = queuePolicyOf(evaluator, queueId).find((s) => s.Sid === 'DenyInsecureTransport');

      // Assess
      expect(deny).toEqual({
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sqs:*',
        Resource: evaluator.evaluate({ 'Fn::GetAtt': [queueId, 'Arn'] }),
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
    });

    it('let only the worker queue use the DLQ as its dead-letter queue (RedriveAllowPolicy byQueue)', () => {
      // Prepare
      const evaluator = new Evaluator(template, PARAMETER_SETS['name prefix']);

      // Act
      const allow = evaluator.properties('DeadLetterQueue')['RedriveAllowPolicy'];

      // Assess
      expect(allow).toEqual({ redrivePermission: 'byQueue', sourceQueueArns: [evaluator.evaluate({ 'Fn::GetAtt': ['Queue', 'Arn'] })] });
    });

    it.each(Object.entries(PARAMETER_SETS))('are the ones `infra apply` writes (%s)', (_label, parameters) => {
      // Prepare
      const evaluator = new Evaluator(template, parameters);
      const arn = (id: string) => String(evaluator.evaluate({ 'Fn::GetAtt': [id, 'Arn'] }));
      const principals = parameters['RedrivePrincipalArns']?.split(',') ?? [];
      const policy = (statementsOf: Statement[]) => normalizePolicy({ Version: '2012-10-17', Statement: statementsOf });

      // Assess
      expect(policy(queuePolicyOf(evaluator, 'Queue'))).toEqual(normalizePolicy(workerQueuePolicy(arn('Queue'), arn('Rule'), principals)));
      expect(policy(queuePolicyOf(evaluator, 'DeadLetterQueue'))).toEqual(normalizePolicy(deadLetterQueuePolicy(arn('DeadLetterQueue'))));
      expect(policy(queuePolicyOf(evaluator, 'EventsDeadLetterQueue'))).toEqual(normalizePolicy(eventBridgeQueuePolicy(arn('EventsDeadLetterQueue'), arn('Rule'))));
      expect(evaluator.properties('DeadLetterQueue')['RedriveAllowPolicy']).toEqual(redriveAllowPolicy(arn('Queue')));
    });
  });

  describe('dashboard', () => {
    const evaluator = new Evaluator(template);
    const body = evaluator.properties('Dashboard')['DashboardBody'];
    const graphed = (): Array<{ namespace: string; name: string; dimensions: string[] }> => {
      const parsed = JSON.parse(String(body)) as { widgets: Array<{ type: string; properties: { metrics?: unknown[][] } }> };
      return parsed.widgets.flatMap((w) =>
        (w.properties.metrics ?? []).map((m) => ({
          namespace: String(m[0]),
          name: String(m[1]),
          dimensions: m.slice(2).filter((x): x is string => typeof x === 'string'),
        })),
      );
    };

    it('is valid JSON once the !Sub placeholders are substituted', () => {
      expect(typeof body).toBe('string');
      expect(String(body)).not.toMatch(/\$\{/);
      expect(() => JSON.parse(String(body))).not.toThrow();
    });

    it('names only metrics the code emits (src/metrics) and AWS/SQS queue metrics', () => {
      // Act
      const metrics = graphed();

      // Assess
      expect(metrics.length).toBeGreaterThan(0);
      for (const metric of metrics) {
        if (metric.namespace === METRIC_NAMESPACE) expect(ALL_METRIC_NAMES, metric.name).toContain(metric.name);
        else if (metric.namespace === 'AWS/SQS') expect(SQS_METRICS.has(metric.name), metric.name).toBe(true);
        else expect.fail(`unexpected namespace ${metric.namespace}`);
      }
    });

    it('graphs every metric the code emits (all but the reserved ones), on the Service dimension', () => {
      // Act
      const names = new Set(graphed().filter((m) => m.namespace === METRIC_NAMESPACE).map((m) => m.name));

      // Assess
      expect(ALL_METRIC_NAMES.filter((name) => !RESERVED_METRICS.has(name) && !names.has(name))).toEqual([]);
      for (const metric of graphed().filter((m) => m.namespace === METRIC_NAMESPACE)) expect(metric.dimensions).toEqual(['Service', 'rotation-relay']);
    });

    it("shows the queue's oldest-message age and the DLQ depth", () => {
      // Prepare
      const queue = String(evaluator.evaluate({ 'Fn::GetAtt': ['Queue', 'QueueName'] }));
      const dlq = String(evaluator.evaluate({ 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] }));

      // Act
      const metrics = graphed();

      // Assess
      expect(metrics).toContainEqual({ namespace: 'AWS/SQS', name: 'ApproximateAgeOfOldestMessage', dimensions: ['QueueName', queue] });
      expect(metrics).toContainEqual({ namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: ['QueueName', dlq] });
    });
  });

  describe('alarms', () => {
    const evaluator = new Evaluator(template);
    const alarms = resourcesOfType('AWS::CloudWatch::Alarm').map((id) => ({ id, ...evaluator.properties(id) }) as Record<string, unknown>);
    const queueName = (id: string) => evaluator.evaluate({ 'Fn::GetAtt': [id, 'QueueName'] });
    const find = (namespace: string, metric: string, dimension?: unknown) =>
      alarms.find(
        (a) =>
          a['Namespace'] === namespace &&
          a['MetricName'] === metric &&
          (dimension === undefined || (a['Dimensions'] as Array<{ Value: unknown }>).some((d) => d.Value === dimension)),
      );

    it('fire when the DLQ is not empty', () => {
      expect(find('AWS/SQS', 'ApproximateNumberOfMessagesVisible', queueName('DeadLetterQueue'))).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    });

    it('fire when the oldest message is too old', () => {
      expect(find('AWS/SQS', 'ApproximateAgeOfOldestMessage', queueName('Queue'))).toMatchObject({ Threshold: 300, ComparisonOperator: 'GreaterThanThreshold' });
    });

    it.each([MetricNames.RotationFailures, MetricNames.MissedByEvents])('fire when %s > 0', (metric) => {
      expect(find(METRIC_NAMESPACE, metric)).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Statistic: 'Sum',
        TreatMissingData: 'notBreaching',
        Dimensions: [{ Name: 'Service', Value: 'rotation-relay' }],
      });
    });

    it('fire when live instances stay on an old version (InstancesStale, the Maximum of the worker gauge, over two periods)', () => {
      expect(find(METRIC_NAMESPACE, MetricNames.InstancesStale)).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Statistic: 'Maximum',
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        TreatMissingData: 'notBreaching',
        Dimensions: [{ Name: 'Service', Value: 'rotation-relay' }],
      });
    });

    it('shows every alarm on the dashboard', () => {
      const body = String(evaluator.properties('Dashboard')['DashboardBody']);
      for (const id of resourcesOfType('AWS::CloudWatch::Alarm')) expect(body).toContain(String(evaluator.evaluate({ 'Fn::GetAtt': [id, 'Arn'] })));
    });

    it('watch only metrics the code emits, and none that is reserved', () => {
      for (const alarm of alarms.filter((a) => a['Namespace'] === METRIC_NAMESPACE)) {
        expect(ALL_METRIC_NAMES).toContain(alarm['MetricName']);
        expect(RESERVED_METRICS.has(String(alarm['MetricName']))).toBe(false);
      }
    });

    it('notify the alarm topic only when one is given', () => {
      // Act
      const withTopic = new Evaluator(template, PARAMETER_SETS['KMS key and alarm topic']);

      // Assess
      for (const alarm of alarms) expect(alarm['AlarmActions'], String(alarm['id'])).toBeUndefined();
      for (const id of resourcesOfType('AWS::CloudWatch::Alarm')) {
        expect(withTopic.properties(id)['AlarmActions']).toEqual([`arn:aws:sns:${ENV.region}:${ENV.accountId}:ops`]);
      }
    });
  });

  it('outputs the queue URL and the ARNs of both managed policies', () => {
    // Prepare
    const evaluator = new Evaluator(template);

    // Assess
    expect(evaluator.output('QueueUrl')).toBe(`https://sqs.${ENV.region}.amazonaws.com/${ENV.accountId}/rotation-relay`);
    expect(template.Outputs['WorkerPolicyArn']?.Value).toEqual({ Ref: 'WorkerPolicy' });
    expect(template.Outputs['AppPolicyArn']?.Value).toEqual({ Ref: 'AppPolicy' });
    expect(evaluator.output('WorkerPolicyArn')).toMatch(/^arn:aws:iam::\d{12}:policy\//);
  });
});

describe('infra/samples', () => {
  // The repository carries its own copies of the real AWS samples: a clone must test alone.
  it.each(Object.values(SAMPLE_FILES))('%s is a Secrets Manager event as EventBridge delivers it', (file) => {
    const sample = JSON.parse(readFileSync(new URL(file, SAMPLES_URL), 'utf8')) as Record<string, unknown>;
    expect(sample).toMatchObject({ version: '0', source: 'aws.secretsmanager', account: expect.any(String) });
    expect(sample['detail-type']).toEqual(expect.any(String));
    expect(sample['detail']).toEqual(expect.any(Object));
  });
});
