import { type CloudTrailDetail, parseCloudTrailDetail, stringField } from './cloudtrail-detail.js';
import { EVENT_LIMITS } from './limits.js';
import { type Decision, type EventContext, rejectEvent, toRotationEvent } from './result.js';
import { type RefResolution, type SecretRef, resolveSecretRef } from './secret-ref.js';
import { describeValue, shortText } from './text.js';
import type { ParseResult } from './types.js';

export const CLOUDTRAIL_API_CALL = 'AWS API Call via CloudTrail';

const CURRENT = 'AWSCURRENT';

type ApiDecision = Omit<Decision, 'eventName' | 'ref'> | { reject: string };
type ApiRule = (detail: CloudTrailDetail, ref: SecretRef) => ApiDecision;

/**
 * The API calls that can change a secret's current value or existence. Every other call
 * (RotateSecret, CancelRotateSecret, TagResource, reads…) changes nothing an application reads.
 */
const RULES: Readonly<Record<string, ApiRule>> = {
  PutSecretValue: putSecretValue,
  UpdateSecretVersionStage: updateSecretVersionStage,
  UpdateSecret: updateSecret,
  RestoreSecret: (_detail, ref) => ({
    action: 'invalidate',
    reason: `${ref.secretName} was restored from scheduled deletion`,
  }),
  DeleteSecret: (_detail, ref) => ({
    action: 'alert',
    reason: `${ref.secretName} was deleted or scheduled for deletion; applications keep their cached value`,
  }),
};

/** `AWS API Call via CloudTrail`: a Secrets Manager API call recorded by a trail. */
export function parseCloudTrailApi(ctx: EventContext): ParseResult {
  const checked = parseCloudTrailDetail(ctx.envelope.detail);
  if (!checked.ok) return rejectEvent(ctx, checked.reason);
  const { detail } = checked;
  const { eventName } = detail;
  const name = shortText(eventName, 80);
  // `secretId` is what the caller passed, so a failed call may hold anything: for calls we
  // ignore anyway, attach the secret only when it resolves cleanly instead of rejecting.
  const resolved = resolveApiSecret(detail);
  const bestEffortRef = resolved.ok ? resolved.ref : undefined;

  if (typeof detail.errorCode === 'string' && detail.errorCode !== '') {
    return toRotationEvent(ctx, {
      action: 'ignore',
      eventName,
      ref: bestEffortRef,
      reason: `${name} call failed with ${shortText(detail.errorCode, 80)}, nothing changed`,
    });
  }
  const rule = Object.hasOwn(RULES, eventName) ? RULES[eventName] : undefined;
  if (rule === undefined) {
    return toRotationEvent(ctx, {
      action: 'ignore',
      eventName,
      ref: bestEffortRef,
      reason: `${name} does not change the current value`,
    });
  }
  if (!resolved.ok) return rejectEvent(ctx, resolved.reason);
  if (resolved.ref === undefined) return rejectEvent(ctx, `${name} event names no secret (no responseElements.arn or requestParameters.secretId)`);
  const decision = rule(detail, resolved.ref);
  if ('reject' in decision) return rejectEvent(ctx, decision.reject);
  return toRotationEvent(ctx, { ...decision, eventName, ref: resolved.ref });
}

/** `responseElements.arn` (`aRN` in events before Feb 2024) is AWS's; `secretId` is the caller's. */
function resolveApiSecret(detail: CloudTrailDetail): RefResolution {
  return resolveSecretRef([
    { field: 'detail.responseElements.arn', value: detail.responseElements?.['arn'], accepts: 'arn' },
    { field: 'detail.responseElements.aRN', value: detail.responseElements?.['aRN'], accepts: 'arn' },
    { field: 'detail.requestParameters.secretId', value: detail.requestParameters?.['secretId'], accepts: 'id' },
  ]);
}

/**
 * PutSecretValue moves AWSCURRENT to the new version unless the caller chose the labels. A
 * rotation's createSecret step puts with `["AWSPENDING"]` *before* the value is current: acting
 * on it would refresh applications to the old value and then miss the real change.
 */
function putSecretValue(detail: CloudTrailDetail, ref: SecretRef): ApiDecision {
  const params = detail.requestParameters;
  // CloudTrail spells request parameters in camelCase; the PascalCase read is a cheap guard
  // against a shape change turning an AWSPENDING put into a refresh.
  const stages: unknown = params?.['versionStages'] ?? params?.['VersionStages'];
  const versionId = stringField(detail.responseElements, 'versionId');
  const where = versionId === undefined ? 'the new version' : `version ${shortText(versionId, 80)}`;
  if (stages === undefined || stages === null) {
    return { action: 'invalidate', versionId, reason: `a new value was put in ${ref.secretName} and ${where} became AWSCURRENT by default` };
  }
  if (!Array.isArray(stages) || !stages.every((stage) => typeof stage === 'string')) {
    return { reject: `detail.requestParameters.versionStages is ${describeValue(stages)}, expected an array of strings` };
  }
  if (stages.length > EVENT_LIMITS.versionStages) {
    return { reject: `detail.requestParameters.versionStages has ${stages.length} entries, more than the ${EVENT_LIMITS.versionStages} allowed` };
  }
  const longLabel = stages.findIndex((stage) => stage.length > EVENT_LIMITS.stagingLabel);
  if (longLabel >= 0) {
    return { reject: `detail.requestParameters.versionStages[${longLabel}] is ${stages[longLabel]?.length ?? 0} characters, more than the ${EVENT_LIMITS.stagingLabel} allowed` };
  }
  if (stages.includes(CURRENT)) {
    return { action: 'invalidate', versionId, reason: `a new value was put in ${ref.secretName} with AWSCURRENT on ${where}` };
  }
  const labels = stages.length === 0 ? 'no labels' : shortText(stages.join(', '), 80);
  return {
    action: 'ignore',
    versionId,
    reason: `a value was put in ${ref.secretName} with ${labels}, so AWSCURRENT did not move`,
  };
}

/** Moving AWSCURRENT onto a version (finishSecret, or a manual roll-back) is a real change. */
function updateSecretVersionStage(detail: CloudTrailDetail, ref: SecretRef): ApiDecision {
  const params = detail.requestParameters;
  const stage: unknown = params?.['versionStage'];
  if (typeof stage !== 'string' || stage === '') {
    return { reject: `detail.requestParameters.versionStage is ${describeValue(stage)}, expected a staging label` };
  }
  if (stage.length > EVENT_LIMITS.stagingLabel) {
    return { reject: `detail.requestParameters.versionStage is ${stage.length} characters, more than the ${EVENT_LIMITS.stagingLabel} allowed` };
  }
  const moveTo = stringField(params, 'moveToVersionId');
  if (stage !== CURRENT) {
    return { action: 'ignore', reason: `label ${shortText(stage, 80)} moved on ${ref.secretName}; only AWSCURRENT changes the value applications read` };
  }
  if (moveTo === undefined) {
    return { action: 'ignore', reason: `AWSCURRENT was only removed from a version of ${ref.secretName}, no version became current` };
  }
  // Only a full ARN filled in by AWS pins the secret; a caller's `secretId` may be a partial ARN
  // that merely looks like a full one, so such an event waits for DescribeSecret to name it.
  const awsArn = stringField(detail.responseElements, 'arn') ?? stringField(detail.responseElements, 'aRN');
  return {
    action: 'invalidate',
    versionId: moveTo,
    ...(awsArn === ref.secretArn ? { movesCurrent: true as const } : {}),
    reason: `AWSCURRENT of ${ref.secretName} moved to version ${shortText(moveTo, 80)}`,
  };
}

/**
 * UpdateSecret changes the value only when it carries one; CloudTrail hides the value itself
 * (`HIDDEN_DUE_TO_SECURITY_REASONS`) but keeps the key, and a new value yields a `versionId` in
 * the response. Description- or KMS-key-only updates have neither.
 */
function updateSecret(detail: CloudTrailDetail, ref: SecretRef): ApiDecision {
  const params = detail.requestParameters;
  const carriesValue = isPresent(params?.['secretString']) || isPresent(params?.['secretBinary']);
  const versionId = stringField(detail.responseElements, 'versionId');
  if (!carriesValue && versionId === undefined) {
    return { action: 'ignore', reason: `UpdateSecret changed only the metadata of ${ref.secretName}, not its value` };
  }
  const where = versionId === undefined ? 'a new version' : `version ${shortText(versionId, 80)}`;
  return { action: 'invalidate', versionId, reason: `UpdateSecret put a new value in ${ref.secretName} as ${where}` };
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}
