import { randomBytes } from 'node:crypto';
import {
  DeleteRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  TestEventPatternCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { queueArn, type AccountContext } from './account.js';
import { failedEntries } from './apply.js';
import { eventBridgeQueuePolicy, stackNames, stackTags } from './desired.js';
import { awsCall, InfraError, InfraErrorCodes } from './errors.js';
import { isJsonObject, tryParseJson, type JsonObject } from './json.js';
import { observeRule, type InfraClients } from './observe.js';
import { narrowPattern, samePattern, SECRETS_MANAGER_SOURCE, type EventPattern } from './pattern.js';
import { buildVerifyCases, type VerifyCase } from './samples.js';
import { scopeFilter, type SecretScope } from './scope.js';

/**
 * Proves the deployed rule routes the sample events, two ways:
 * - `test-pattern` (AWS): TestEventPattern with the deployed pattern and each real sample.
 * - `mirror` (emulators: moto_server implements rules and PutEvents but not TestEventPattern,
 *   and AWS refuses PutEvents with an `aws.*` source): a temporary rule with the deployed pattern
 *   but source `rotation-relay.verify`, targeting a temporary queue; each sample is put with that
 *   source and verify reads what arrives. The temporary resources are tagged with the stack and
 *   deleted afterwards (`destroy` also removes leftovers of an interrupted run).
 */

export type VerifyMethod = 'test-pattern' | 'mirror';

export const VERIFY_SOURCE = 'rotation-relay.verify';
/** Where samples from other `aws.*` sources go in mirror mode (no emulator or AWS accepts `aws.*`). */
export const VERIFY_OTHER_SOURCE = 'rotation-relay.verify.other';

export interface VerifyOptions {
  stack: string;
  scope: SecretScope;
  method: VerifyMethod;
  /** Mirror mode: how long to wait for the events expected on the queue. */
  waitMs: number;
  basePattern: EventPattern;
}

export interface CaseResult {
  id: string;
  description: string;
  expected: 'route' | 'skip';
  actual: 'routed' | 'not routed' | 'error';
  ok: boolean;
  note?: string;
}

export interface VerifyCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  rule: string;
  method: VerifyMethod;
  ok: boolean;
  cases: CaseResult[];
  checks: VerifyCheck[];
  /** Facts that do not fail the run (the deployed pattern is not the one these flags give). */
  notes: string[];
}

export async function verifyRule(clients: InfraClients, ctx: AccountContext, options: VerifyOptions): Promise<VerifyReport> {
  const names = stackNames(options.stack);
  const rule = await observeRule(clients.eventBridge, names.rule);
  if (!rule) {
    throw new InfraError(
      InfraErrorCodes.RuleNotFound,
      `rule ${names.rule} not found on the default event bus of ${ctx.region}: run "rotation-relay infra apply --name ${options.stack}" first`,
    );
  }
  const deployed = tryParseJson(rule.eventPattern);
  if (!isJsonObject(deployed)) {
    throw new InfraError(InfraErrorCodes.PatternInvalid, `rule ${names.rule} has no JSON event pattern`);
  }
  const notes: string[] = [];
  if (!samePattern(deployed, narrowPattern(options.basePattern, scopeFilter(options.scope, ctx)))) {
    notes.push(
      `the rule's pattern is not infra/event-pattern.json narrowed as these flags say (see "rotation-relay infra plan"); the samples below test the deployed pattern against the expectations of these flags`,
    );
  }
  const expectedQueue = queueArn(ctx, names.queue);
  const checks: VerifyCheck[] = [
    {
      name: 'target',
      ok: rule.targets.some((t) => t.Arn === expectedQueue),
      detail: `rule ${names.rule} targets queue ${expectedQueue}`,
    },
    {
      name: 'state',
      ok: rule.state === 'ENABLED',
      detail: `rule ${names.rule} is ${rule.state ?? 'in no state'}`,
    },
  ];
  const cases = buildVerifyCases(options.scope, ctx);
  const results =
    options.method === 'test-pattern'
      ? await testPatternCases(clients, ctx, rule.eventPattern ?? '', cases)
      : await mirrorCases(clients, ctx, options, deployed, cases, checks);
  return {
    rule: names.rule,
    method: options.method,
    ok: results.every((r) => r.ok) && checks.every((c) => c.ok),
    cases: results,
    checks,
    notes,
  };
}

async function testPatternCases(clients: InfraClients, ctx: AccountContext, pattern: string, cases: VerifyCase[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    // The account field must be a real account id; the samples carry AWS's documentation ids.
    const event = { ...c.event, account: ctx.accountId };
    const output = await awsCall('TestEventPattern', c.id, () =>
      clients.eventBridge.send(new TestEventPatternCommand({ EventPattern: pattern, Event: JSON.stringify(event) })),
    );
    const actual = output.Result ? 'routed' : 'not routed';
    results.push(result(c, actual));
  }
  return results;
}

async function mirrorCases(
  clients: InfraClients,
  ctx: AccountContext,
  options: VerifyOptions,
  deployed: JsonObject,
  cases: VerifyCase[],
  checks: VerifyCheck[],
): Promise<CaseResult[]> {
  const source = deployed['source'];
  checks.push({
    name: 'source',
    ok: Array.isArray(source) && source.length === 1 && source[0] === SECRETS_MANAGER_SOURCE,
    detail: `the rule accepts only source ${SECRETS_MANAGER_SOURCE} (mirrored as ${VERIFY_SOURCE})`,
  });
  const mirrorName = `${options.stack}-verify-${randomBytes(4).toString('hex')}`;
  const mirrorQueueArn = queueArn(ctx, mirrorName);
  const mirrorRuleArn = `arn:${ctx.partition}:events:${ctx.region}:${ctx.accountId}:rule/${mirrorName}`;
  const tags = { ...stackTags(options.stack), 'rotation-relay:purpose': 'verify' };
  const created: { queueUrl?: string; rule?: boolean } = {};
  try {
    const queue = await awsCall('CreateQueue', `queue ${mirrorName}`, () =>
      clients.sqs.send(
        new CreateQueueCommand({
          QueueName: mirrorName,
          Attributes: { SqsManagedSseEnabled: 'true', Policy: JSON.stringify(eventBridgeQueuePolicy(mirrorQueueArn, mirrorRuleArn)) },
          tags,
        }),
      ),
    );
    created.queueUrl = queue.QueueUrl;
    await awsCall('PutRule', `rule ${mirrorName}`, () =>
      clients.eventBridge.send(
        new PutRuleCommand({
          Name: mirrorName,
          EventPattern: JSON.stringify({ ...deployed, source: [VERIFY_SOURCE] }),
          State: 'ENABLED',
          Description: `rotation-relay infra verify: temporary copy of rule ${options.stack}`,
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    );
    created.rule = true;
    const targets = await awsCall('PutTargets', `rule ${mirrorName}`, () =>
      clients.eventBridge.send(new PutTargetsCommand({ Rule: mirrorName, Targets: [{ Id: 'verify', Arn: mirrorQueueArn }] })),
    );
    failedEntries('PutTargets', `rule ${mirrorName}`, targets.FailedEntryCount, targets.FailedEntries);

    const byEventId = new Map<string, number>();
    const putErrors = new Map<number, string>();
    for (let start = 0; start < cases.length; start += 10) {
      const batch = cases.slice(start, start + 10);
      const output = await awsCall('PutEvents', `${batch.length} samples`, () =>
        clients.eventBridge.send(new PutEventsCommand({ Entries: batch.map((c) => mirrorEntry(c.event)) })),
      );
      (output.Entries ?? []).forEach((entry, offset) => {
        if (entry.EventId) byEventId.set(entry.EventId, start + offset);
        else putErrors.set(start + offset, `${entry.ErrorCode ?? 'PutEvents failed'}: ${entry.ErrorMessage ?? ''}`.trim());
      });
    }

    const arrived = await collectArrivals(clients, queue.QueueUrl ?? '', byEventId, cases, options.waitMs);
    return cases.map((c, index) => {
      const error = putErrors.get(index);
      if (error !== undefined) return { ...result(c, 'error'), note: error };
      return result(c, arrived.has(index) ? 'routed' : 'not routed');
    });
  } finally {
    await cleanUpMirror(clients, mirrorName, created);
  }
}

/** A sample as a PutEvents entry, with its source moved out of the reserved `aws.*` space. */
function mirrorEntry(event: JsonObject): PutEventsRequestEntry {
  const source = String(event['source'] ?? '');
  const mapped = source === SECRETS_MANAGER_SOURCE ? VERIFY_SOURCE : source.startsWith('aws.') ? VERIFY_OTHER_SOURCE : source;
  const resources = Array.isArray(event['resources']) ? event['resources'].filter((r): r is string => typeof r === 'string') : [];
  const time = typeof event['time'] === 'string' ? new Date(event['time']) : undefined;
  return {
    Source: mapped,
    DetailType: String(event['detail-type'] ?? ''),
    Detail: JSON.stringify(event['detail'] ?? {}),
    Resources: resources,
    ...(time && !Number.isNaN(time.getTime()) ? { Time: time } : {}),
  };
}

/**
 * Reads the temporary queue until every event expected to route has arrived and one more
 * receive finds nothing new (so one that should not route has had its chance), or until
 * `waitMs` has passed.
 */
async function collectArrivals(
  clients: InfraClients,
  queueUrl: string,
  byEventId: Map<string, number>,
  cases: VerifyCase[],
  waitMs: number,
): Promise<Set<number>> {
  const arrived = new Set<number>();
  const expected = [...byEventId.values()].filter((index) => cases[index]?.expected === 'route');
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const output = await awsCall('ReceiveMessage', 'verify queue', () =>
      clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 })),
    );
    const messages = output.Messages ?? [];
    for (const message of messages) {
      const body = tryParseJson(message.Body);
      const id = isJsonObject(body) && typeof body['id'] === 'string' ? body['id'] : undefined;
      const index = id === undefined ? undefined : byEventId.get(id);
      if (index !== undefined) arrived.add(index);
    }
    if (messages.length > 0) {
      await awsCall('DeleteMessageBatch', 'verify queue', () =>
        clients.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        ),
      );
    } else if (expected.every((index) => arrived.has(index))) {
      break;
    }
  }
  return arrived;
}

async function cleanUpMirror(clients: InfraClients, name: string, created: { queueUrl?: string; rule?: boolean }): Promise<void> {
  // Best effort: a failure here must not hide the verify result; `destroy` removes leftovers.
  if (created.rule) {
    await clients.eventBridge.send(new RemoveTargetsCommand({ Rule: name, Ids: ['verify'] })).catch(() => undefined);
    await clients.eventBridge.send(new DeleteRuleCommand({ Name: name })).catch(() => undefined);
  }
  if (created.queueUrl) {
    await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: created.queueUrl })).catch(() => undefined);
  }
}

function result(c: VerifyCase, actual: CaseResult['actual']): CaseResult {
  const ok = actual !== 'error' && (c.expected === 'route') === (actual === 'routed');
  return { id: c.id, description: c.description, expected: c.expected, actual, ok };
}
