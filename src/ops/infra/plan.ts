import type { Target } from '@aws-sdk/client-eventbridge';
import { MANAGED_BY_TAG, MANAGED_BY_VALUE, STACK_TAG, type DesiredQueue, type DesiredState, type DesiredTarget } from './desired.js';
import { InfraError, InfraErrorCodes } from './errors.js';
import { canonicalJson, jsonDifferences, jsonEqual, normalizePolicy, tryParseJson } from './json.js';
import type { ObservedQueue, ObservedRule, ObservedState } from './observe.js';
import { PATTERN_DEFAULT_QUOTA, PATTERN_HARD_LIMIT, samePattern, serializePattern } from './pattern.js';

/** One field that differs, rendered for people: JSON values as compact JSON. */
export interface FieldChange {
  field: string;
  from?: string;
  to?: string;
}

interface ChangeBase {
  action: 'create' | 'update' | 'delete';
  /** `queue rotation-relay`, `rule rotation-relay`, `target rotation-relay/rotation-relay-queue`. */
  resource: string;
  fields: FieldChange[];
}

export type Change =
  | (ChangeBase & { op: 'create-queue'; queue: DesiredQueue })
  | (ChangeBase & { op: 'set-queue-attributes'; queue: DesiredQueue; url: string; attributes: Record<string, string> })
  | (ChangeBase & { op: 'tag-queue'; queue: DesiredQueue; url: string; tags: Record<string, string> })
  | (ChangeBase & { op: 'put-rule'; create: boolean })
  | (ChangeBase & { op: 'tag-rule'; arn: string; tags: Record<string, string> })
  | (ChangeBase & { op: 'put-target'; target: DesiredTarget })
  | (ChangeBase & { op: 'remove-target'; targetId: string });

export interface Plan {
  desired: DesiredState;
  changes: Change[];
  /** Things that are not changes but the operator should know (pattern near a quota). */
  warnings: string[];
}

export interface PlanOptions {
  /**
   * Queue attributes the endpoint stores but never reports: a queue that shows none of them is
   * not drifted, or no second apply would be a no-op there. Only emulators need it.
   * @defaultValue `[]` (AWS reports every attribute it stores)
   */
  unreportedAttributes?: readonly string[];
}

/** moto_server takes RedriveAllowPolicy on CreateQueue but GetQueueAttributes never returns it. */
export const EMULATOR_UNREPORTED_ATTRIBUTES: readonly string[] = ['RedriveAllowPolicy'];

/** What `apply` would do to turn `observed` into `desired`. Refuses resources it did not create. */
export function computePlan(desired: DesiredState, observed: ObservedState, options: PlanOptions = {}): Plan {
  const changes: Change[] = [];
  for (const queue of desired.queues) {
    const current = observed.queues.get(queue.name);
    if (current === undefined) {
      changes.push({ op: 'create-queue', action: 'create', resource: `queue ${queue.name}`, queue, fields: [] });
    } else {
      assertOwned(`queue ${queue.name}`, current.tags, desired.names.stack);
      changes.push(...queueChanges(queue, current, options.unreportedAttributes ?? []));
    }
  }
  changes.push(...ruleChanges(desired, observed.rule));
  return { desired, changes, warnings: patternWarnings(desired) };
}

function assertOwned(resource: string, tags: Record<string, string>, stack: string): void {
  if (tags[MANAGED_BY_TAG] !== MANAGED_BY_VALUE) {
    throw new InfraError(
      InfraErrorCodes.NotManaged,
      `${resource} already exists and is not tagged ${MANAGED_BY_TAG}=${MANAGED_BY_VALUE}: rotation-relay changes only what it created. Choose another --name, or delete or tag that resource yourself`,
    );
  }
  const owner = tags[STACK_TAG];
  if (owner !== undefined && owner !== stack) {
    throw new InfraError(InfraErrorCodes.NotManaged, `${resource} belongs to rotation-relay stack "${owner}" (tag ${STACK_TAG}), not "${stack}"`);
  }
}

function queueChanges(queue: DesiredQueue, current: ObservedQueue, unreported: readonly string[]): Change[] {
  const changes: Change[] = [];
  const attributes: Record<string, string> = {};
  const fields: FieldChange[] = [];
  for (const [key, wanted] of Object.entries(queue.attributes)) {
    if (current.attributes[key] === undefined && unreported.includes(key)) continue;
    const diff = attributeDifferences(key, current.attributes[key], wanted);
    if (diff.length > 0) {
      attributes[key] = wanted;
      fields.push(...diff);
    }
  }
  if (fields.length > 0) {
    // moto_server forgets a queue's Policy on any SetQueueAttributes that omits it (AWS keeps
    // it); re-sending the unchanged policy is harmless on AWS and keeps emulators in step.
    if (queue.attributes['Policy'] !== undefined) attributes['Policy'] = queue.attributes['Policy'];
    changes.push({ op: 'set-queue-attributes', action: 'update', resource: `queue ${queue.name}`, queue, url: current.url, attributes, fields });
  }
  const tags = tagDifferences(queue.tags, current.tags);
  if (tags.fields.length > 0) {
    changes.push({ op: 'tag-queue', action: 'update', resource: `queue ${queue.name}`, queue, url: current.url, tags: tags.wanted, fields: tags.fields });
  }
  return changes;
}

/** JSON-valued attributes are compared as documents (AWS may re-serialize them), others as strings. */
function attributeDifferences(key: string, current: string | undefined, wanted: string): FieldChange[] {
  if (key === 'Policy' || key === 'RedrivePolicy' || key === 'RedriveAllowPolicy') {
    const normalize = key === 'Policy' ? normalizePolicy : key === 'RedrivePolicy' ? normalizeRedrivePolicy : (value: unknown) => value;
    const from = current === undefined ? undefined : normalize(tryParseJson(current) ?? current);
    const to = normalize(JSON.parse(wanted) as unknown);
    if (jsonEqual(from, to)) return [];
    if (from === undefined) return [{ field: key, from: '(none)', to: wanted }];
    return jsonDifferences(from, to, key).map((d) => field(d.path, d.from, d.to));
  }
  return current === wanted ? [] : [{ field: key, from: current ?? '(none)', to: wanted }];
}

function normalizeRedrivePolicy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const policy = value as Record<string, unknown>;
  return { ...policy, maxReceiveCount: Number(policy['maxReceiveCount']) };
}

function tagDifferences(wanted: Record<string, string>, current: Record<string, string>): { wanted: Record<string, string>; fields: FieldChange[] } {
  const missing = Object.entries(wanted).filter(([key, value]) => current[key] !== value);
  return {
    wanted: Object.fromEntries(missing),
    fields: missing.map(([key, value]) => ({ field: `tag ${key}`, from: current[key] ?? '(none)', to: value })),
  };
}

function ruleChanges(desired: DesiredState, current: ObservedRule | undefined): Change[] {
  const rule = desired.rule;
  const resource = `rule ${rule.name}`;
  if (current === undefined) {
    return [
      {
        op: 'put-rule',
        action: 'create',
        resource,
        create: true,
        fields: [{ field: 'EventPattern', to: `${serializePattern(rule.pattern).length} characters, ${describeFamilies()}` }],
      },
      ...rule.targets.map(
        (target): Change => ({ op: 'put-target', action: 'create', resource: `target ${rule.name}/${target.Id}`, target, fields: [{ field: 'Arn', to: target.Arn }] }),
      ),
    ];
  }
  assertOwned(resource, current.tags, desired.names.stack);
  const changes: Change[] = [];
  const fields: FieldChange[] = [];
  const currentPattern = tryParseJson(current.eventPattern);
  if (!samePattern(currentPattern, rule.pattern)) {
    fields.push(
      ...(currentPattern === undefined
        ? [{ field: 'EventPattern', from: current.eventPattern ?? '(none)', to: serializePattern(rule.pattern) }]
        : jsonDifferences(currentPattern, rule.pattern, 'EventPattern').map((d) => field(d.path, d.from, d.to))),
    );
  }
  if (current.state !== rule.state) fields.push({ field: 'State', from: current.state ?? '(none)', to: rule.state });
  if (current.description !== rule.description) fields.push({ field: 'Description', from: current.description ?? '(none)', to: rule.description });
  if (fields.length > 0) changes.push({ op: 'put-rule', action: 'update', resource, create: false, fields });

  const tags = tagDifferences(rule.tags, current.tags);
  if (tags.fields.length > 0) changes.push({ op: 'tag-rule', action: 'update', resource, arn: current.arn, tags: tags.wanted, fields: tags.fields });

  for (const target of rule.targets) {
    const existing = current.targets.find((t) => t.Id === target.Id);
    const targetResource = `target ${rule.name}/${target.Id}`;
    if (existing === undefined) {
      changes.push({ op: 'put-target', action: 'create', resource: targetResource, target, fields: [{ field: 'Arn', to: target.Arn }] });
      continue;
    }
    const differences = jsonDifferences(comparableTarget(existing), target);
    if (differences.length > 0) {
      changes.push({ op: 'put-target', action: 'update', resource: targetResource, target, fields: differences.map((d) => field(d.path, d.from, d.to)) });
    }
  }
  for (const extra of current.targets.filter((t) => !rule.targets.some((wanted) => wanted.Id === t.Id))) {
    changes.push({
      op: 'remove-target',
      action: 'delete',
      resource: `target ${rule.name}/${extra.Id ?? ''}`,
      targetId: extra.Id ?? '',
      fields: [{ field: 'Arn', from: extra.Arn ?? '(none)' }],
    });
  }
  return changes;
}

/** The target as returned, without undefined members, so it compares with what we put. */
function comparableTarget(target: Target): unknown {
  return JSON.parse(JSON.stringify(target)) as unknown;
}

function describeFamilies(): string {
  return 'Secret Label Updated (AWSCURRENT), CloudTrail service events, CloudTrail API calls';
}

function patternWarnings(desired: DesiredState): string[] {
  const length = serializePattern(desired.rule.pattern).length;
  if (length > PATTERN_HARD_LIMIT) {
    throw new InfraError(
      InfraErrorCodes.PatternInvalid,
      `the event pattern for these secrets is ${length} characters, over EventBridge's limit of ${PATTERN_HARD_LIMIT}: use --secret-prefix, or fewer --secret-arn`,
    );
  }
  if (length > PATTERN_DEFAULT_QUOTA) {
    return [
      `the event pattern is ${length} characters: EventBridge's default quota is ${PATTERN_DEFAULT_QUOTA} (raise "Event pattern size" in Service Quotas up to ${PATTERN_HARD_LIMIT}, or use --secret-prefix)`,
    ];
  }
  return [];
}

function field(path: string, from: unknown, to: unknown): FieldChange {
  return { field: path, from: display(from), to: display(to) };
}

function display(value: unknown): string {
  if (value === undefined) return '(none)';
  return typeof value === 'string' ? value : canonicalJson(value);
}

export function planCounts(plan: Plan): { create: number; update: number; delete: number } {
  const counts = { create: 0, update: 0, delete: 0 };
  for (const change of plan.changes) counts[change.action] += 1;
  return counts;
}

const SIGN = { create: '+', update: '~', delete: '-' } as const;

/** The plan as lines of text; the same lines head `apply`'s output. */
export function formatPlan(plan: Plan, header: string): string[] {
  const { desired } = plan;
  const lines = [header];
  for (const warning of plan.warnings) lines.push(`warning: ${warning}`);
  if (plan.changes.length === 0) {
    lines.push(
      `no changes: ${desired.queues.length} queues, rule ${desired.rule.name} and ${desired.rule.targets.length} target are up to date`,
    );
    return lines;
  }
  for (const change of plan.changes) {
    lines.push(`  ${SIGN[change.action]} ${change.resource}${change.action === 'update' ? '' : ` (${change.action})`}`);
    for (const f of change.fields) {
      if (f.from !== undefined && f.to !== undefined) lines.push(`      ${f.field}: ${f.from} → ${f.to}`);
      else if (f.to !== undefined) lines.push(`      ${f.field}: ${f.to}`);
      else lines.push(`      ${f.field}: ${f.from ?? ''}`);
    }
  }
  const counts = planCounts(plan);
  lines.push(`${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete`);
  return lines;
}

/** The plan as plain data for `--json`. */
export function planJson(plan: Plan): unknown {
  return {
    stack: plan.desired.names.stack,
    region: plan.desired.account.region,
    account: plan.desired.account.accountId,
    changes: plan.changes.map((c) => ({ action: c.action, resource: c.resource, fields: c.fields })),
    counts: planCounts(plan),
    warnings: plan.warnings,
  };
}
