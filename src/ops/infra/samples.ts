import { readFileSync } from 'node:fs';
import type { AccountContext } from './account.js';
import { InfraError, InfraErrorCodes } from './errors.js';
import { isJsonObject, type JsonObject } from './json.js';
import { FAMILY_DETAIL_TYPES } from './pattern.js';
import { inScopeArn, scopeIncludes, type SecretScope } from './scope.js';

/**
 * The events `verify` sends through the rule. infra/samples holds real AWS event samples, kept
 * verbatim (the tests and the README read them there); the variants are built here from them
 * so each differs from a real event in exactly the field under test.
 */

export const SAMPLES_URL = new URL('../../../infra/samples/', import.meta.url);

export const SAMPLE_FILES = {
  labelUpdated: 'secret-label-updated.json',
  rotationSucceeded: 'rotation-succeeded.json',
  rotationFailed: 'rotation-failed.json',
  putSecretValue: 'put-secret-value.json',
} as const;

/** A source nobody filters on: events anyone with `events:PutEvents` could send to the default bus. */
export const LOOKALIKE_SOURCE = 'com.example.lookalike';

export interface VerifyCase {
  id: string;
  description: string;
  /** The whole EventBridge event, as the queue would receive it. */
  event: JsonObject;
  expected: 'route' | 'skip';
}

type SampleSet = { [K in keyof typeof SAMPLE_FILES]: JsonObject };

export function loadSamples(dir: URL = SAMPLES_URL): SampleSet {
  const read = (file: string): JsonObject => {
    const url = new URL(file, dir);
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(url, 'utf8'));
    } catch (error) {
      throw new InfraError(InfraErrorCodes.PatternInvalid, `cannot read sample event ${url.pathname}`, { cause: error });
    }
    if (!isJsonObject(value)) throw new InfraError(InfraErrorCodes.PatternInvalid, `sample event ${url.pathname} is not a JSON object`);
    return value;
  };
  return {
    labelUpdated: read(SAMPLE_FILES.labelUpdated),
    rotationSucceeded: read(SAMPLE_FILES.rotationSucceeded),
    rotationFailed: read(SAMPLE_FILES.rotationFailed),
    putSecretValue: read(SAMPLE_FILES.putSecretValue),
  };
}

/**
 * What verify sends and what it expects. For every secret: the four real samples and the old
 * `aRN` spelling must route; an AWSPENDING label move, a failed API call and a look-alike from
 * another source must not. With a scope, every event is also sent for a secret in scope (must
 * behave as above) and the routable samples as they are (must route only if their own ARN is in
 * scope, which it normally is not).
 */
export function buildVerifyCases(scope: SecretScope, ctx: AccountContext, samples: SampleSet = loadSamples()): VerifyCase[] {
  const routable: Array<Omit<VerifyCase, 'expected'>> = [
    { id: 'label-updated-awscurrent', description: 'Secret Label Updated, AWSCURRENT moved', event: samples.labelUpdated },
    { id: 'rotation-succeeded', description: 'CloudTrail service event RotationSucceeded', event: samples.rotationSucceeded },
    { id: 'rotation-failed', description: 'CloudTrail service event RotationFailed', event: samples.rotationFailed },
    { id: 'put-secret-value', description: 'CloudTrail API call PutSecretValue', event: samples.putSecretValue },
    { id: 'put-secret-value-aRN', description: 'PutSecretValue, ARN spelled aRN (before Feb 2024)', event: withOldArnSpelling(samples.putSecretValue) },
  ];
  const unroutable: Array<Omit<VerifyCase, 'expected'>> = [
    { id: 'label-updated-awspending', description: 'Secret Label Updated, AWSPENDING moved', event: withDetail(samples.labelUpdated, { labelUpdated: 'AWSPENDING' }) },
    {
      id: 'put-secret-value-failed',
      description: 'PutSecretValue that failed (errorCode set)',
      event: withDetail(samples.putSecretValue, { errorCode: 'AccessDenied', errorMessage: 'not authorized', responseElements: null }),
    },
    { id: 'lookalike-other-source', description: `AWSCURRENT look-alike from source ${LOOKALIKE_SOURCE}`, event: { ...structuredClone(samples.labelUpdated), source: LOOKALIKE_SOURCE } },
  ];
  if (scope.kind === 'all') {
    return [...routable.map((c) => ({ ...c, expected: 'route' as const })), ...unroutable.map((c) => ({ ...c, expected: 'skip' as const }))];
  }
  const arn = inScopeArn(scope, ctx);
  const inScope = (c: Omit<VerifyCase, 'expected'>) => ({ ...c, id: `${c.id} (in scope)`, event: withSecretArn(c.event, arn) });
  return [
    ...routable.map((c) => ({ ...inScope(c), expected: 'route' as const })),
    ...unroutable.map((c) => ({ ...inScope(c), expected: 'skip' as const })),
    ...routable.map((c) => {
      const own = secretArnOf(c.event);
      const included = own !== undefined && scopeIncludes(scope, ctx, own);
      return { ...c, id: `${c.id} (as sampled)`, expected: included ? ('route' as const) : ('skip' as const) };
    }),
  ];
}

/** The secret ARN an event names, in its family's own field. */
export function secretArnOf(event: JsonObject): string | undefined {
  const detail = isJsonObject(event['detail']) ? event['detail'] : {};
  switch (event['detail-type']) {
    case FAMILY_DETAIL_TYPES.labelUpdated: {
      const resources = event['resources'];
      return Array.isArray(resources) && typeof resources[0] === 'string' ? resources[0] : undefined;
    }
    case FAMILY_DETAIL_TYPES.serviceEvent: {
      const extra = detail['additionalEventData'];
      return isJsonObject(extra) && typeof extra['SecretId'] === 'string' ? extra['SecretId'] : undefined;
    }
    case FAMILY_DETAIL_TYPES.apiCall: {
      const response = detail['responseElements'];
      if (!isJsonObject(response)) return undefined;
      const arn = response['arn'] ?? response['aRN'];
      return typeof arn === 'string' ? arn : undefined;
    }
    default:
      return undefined;
  }
}

/** A copy of `event` naming `arn` wherever its family names the secret. */
export function withSecretArn(event: JsonObject, arn: string): JsonObject {
  const copy = structuredClone(event);
  const detail = isJsonObject(copy['detail']) ? copy['detail'] : {};
  switch (copy['detail-type']) {
    case FAMILY_DETAIL_TYPES.labelUpdated:
      copy['resources'] = [arn];
      if (typeof detail['name'] === 'string') detail['name'] = arn.slice(arn.indexOf(':secret:') + 8).replace(/-[A-Za-z0-9]{6}$/, '');
      break;
    case FAMILY_DETAIL_TYPES.serviceEvent:
      detail['additionalEventData'] = { ...(isJsonObject(detail['additionalEventData']) ? detail['additionalEventData'] : {}), SecretId: arn };
      break;
    case FAMILY_DETAIL_TYPES.apiCall: {
      const response = detail['responseElements'];
      if (isJsonObject(response)) {
        if ('aRN' in response) response['aRN'] = arn;
        else response['arn'] = arn;
      }
      if (isJsonObject(detail['requestParameters'])) detail['requestParameters']['secretId'] = arn;
      break;
    }
  }
  return copy;
}

function withDetail(event: JsonObject, changes: JsonObject): JsonObject {
  const copy = structuredClone(event);
  copy['detail'] = { ...(isJsonObject(copy['detail']) ? copy['detail'] : {}), ...structuredClone(changes) };
  return copy;
}

function withOldArnSpelling(event: JsonObject): JsonObject {
  const copy = structuredClone(event);
  const detail = isJsonObject(copy['detail']) ? copy['detail'] : {};
  const response = detail['responseElements'];
  if (isJsonObject(response) && 'arn' in response) {
    detail['responseElements'] = { aRN: response['arn'] ?? null };
  }
  return copy;
}
