import fc from 'fast-check';
import { SAMPLE_FILES, readSample, snsWrap } from './event-fixtures.js';

/**
 * Generators shared by the fuzz tests. Everything starts from the real AWS samples in
 * infra/samples where it can: a fuzzer that only invents shapes never reaches the deep
 * branches a real event takes.
 */

/** Multiplies every `numRuns` (FUZZ_SCALE=10 for a long local run); CI runs at 1. */
export const FUZZ_SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
export const runs = (n: number): number => Math.round(n * FUZZ_SCALE);

export const SAMPLE_TEXTS = SAMPLE_FILES.map((file) => readSample(file));
export const SAMPLE_EVENTS = SAMPLE_TEXTS.map((text) => JSON.parse(text) as Record<string, unknown>);

export type Path = readonly (string | number)[];

/** Every path to a value inside `value` (the root excluded). */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((item, index): [number, unknown] => [index, item])
    : Object.entries(value);
  return entries.flatMap(([key, child]) => {
    const path = [...prefix, key];
    return [path, ...pathsOf(child, path)];
  });
}

export const DELETE = Symbol('delete');

/**
 * A deep copy of `root` with the value at `path` replaced, deleted, or (for objects) with an extra
 * key added beside it. Keys are set with defineProperty, so `__proto__` becomes a real own key
 * (JSON.stringify then writes it, as a hostile body would).
 */
export function withChange(root: unknown, path: Path, replacement: unknown, extraKey?: string): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (extraKey !== undefined && !Array.isArray(parent)) {
    Object.defineProperty(parent, extraKey, { value: replacement, enumerable: true, configurable: true, writable: true });
  } else if (replacement === DELETE) {
    if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
    else delete parent[last];
  } else {
    parent[last] = replacement;
  }
  return copy;
}

const NAME_CHARS = /^[A-Za-z0-9/_+=.@!-]{1,24}$/;

/** Secret names, including the odd characters AWS allows and RDS's `rds!` prefix. */
export const secretName = fc.oneof(
  fc.stringMatching(NAME_CHARS),
  fc.constantFrom('prod/db', 'rds!cluster-4f1e', 'a-b-c-AbCdEf', 'x', 'name-with-dash-123456'),
);

/** Full Secrets Manager ARNs in every partition, plus region/account spellings AWS uses. */
export const secretsManagerArn = fc
  .tuple(
    fc.constantFrom('aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b'),
    fc.constantFrom('eu-west-1', 'us-east-1', 'cn-north-1', 'us-gov-west-1', 'ap-southeast-2'),
    fc.constantFrom('123456789012', '000000000000', 'accountid'),
    secretName,
    fc.stringMatching(/^[A-Za-z0-9]{6}$/),
  )
  .map(([partition, region, account, name, suffix]) => `arn:${partition}:secretsmanager:${region}:${account}:secret:${name}-${suffix}`);

/**
 * Anything an event could hold where an ARN belongs: real ARNs, near misses (wrong service,
 * missing suffix, wrong suffix length, junk region, trailing space), bare names and noise.
 */
export const arnLike = fc.oneof(
  { arbitrary: secretsManagerArn, weight: 4 },
  { arbitrary: secretName.map((name) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`), weight: 2 },
  { arbitrary: secretName, weight: 2 },
  { arbitrary: fc.string().map((s) => `arn:aws:s3:::${s}`), weight: 1 },
  { arbitrary: secretsManagerArn.map((arn) => arn.replace(':secretsmanager:', ':ssm:')), weight: 1 },
  { arbitrary: secretsManagerArn.map((arn) => `${arn} `), weight: 1 },
  { arbitrary: secretsManagerArn.map((arn) => arn.slice(0, -1)), weight: 1 },
  { arbitrary: secretsManagerArn.map((arn) => arn.replace(/:\d{12}:|:accountid:/, ':12345:')), weight: 1 },
  { arbitrary: secretsManagerArn.map((arn) => arn.replace('secret:', 'secret:\n')), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme' }), weight: 1 },
);

/** Values a mutation puts into a sample: type confusion, hostile keys, relevant constants. */
export const replacement = fc.oneof(
  { arbitrary: fc.constant(DELETE), weight: 3 },
  { arbitrary: fc.constant(null), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 3 },
  { arbitrary: arnLike, weight: 4 },
  {
    arbitrary: fc.constantFrom<unknown>(
      'AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS', ['AWSPENDING'], ['AWSCURRENT'], [], [1], 'RotationSucceeded', 'RotationFailed',
      'RotationAbandoned', 'TestRotationSucceeded', 'PutSecretValue', 'UpdateSecretVersionStage', 'UpdateSecret', 'DeleteSecret',
      'RestoreSecret', 'Notification', 'aws.secretsmanager', 'Secret Label Updated', 'AWS API Call via CloudTrail',
      'AWS Service Event via CloudTrail', '', ' ', 'x'.repeat(10_000), '\u2028forged log line\n{"level":"fatal"}', 0, -1, 1e308, true,
    ),
    weight: 4,
  },
);

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'aRN', 'arn', 'secretId', 'SecretId'];

/** A real sample with 1–4 structural changes (replace, delete, add a hostile or relevant key). */
export const mutatedSampleEvent = fc
  .tuple(
    fc.constantFrom(...SAMPLE_EVENTS),
    fc.array(fc.tuple(fc.nat(), replacement, fc.option(fc.constantFrom(...HOSTILE_KEYS), { freq: 4 })), { minLength: 1, maxLength: 4 }),
  )
  .map(([sample, changes]) => {
    let event: unknown = sample;
    for (const [pick, value, extraKey] of changes) {
      const paths = pathsOf(event);
      if (paths.length === 0) break;
      event = withChange(event, paths[pick % paths.length] as Path, value === DELETE && extraKey !== null ? null : value, extraKey ?? undefined);
    }
    return event;
  });

/**
 * A real sample's raw text with 1–6 character-level edits (insert, delete, replace, duplicate a
 * slice, truncate): mostly broken JSON, sometimes valid JSON with a subtly different value.
 */
export const mutatedSampleText = fc
  .tuple(
    fc.constantFrom(...SAMPLE_TEXTS),
    fc.array(
      fc.tuple(fc.constantFrom('insert', 'delete', 'replace', 'duplicate', 'truncate'), fc.nat(), fc.nat(40), fc.string({ unit: 'grapheme', maxLength: 4 })),
      { minLength: 1, maxLength: 6 },
    ),
  )
  .map(([text, edits]) => {
    let out = text;
    for (const [kind, at, length, insert] of edits) {
      const i = out.length === 0 ? 0 : at % out.length;
      if (kind === 'insert') out = out.slice(0, i) + insert + out.slice(i);
      else if (kind === 'delete') out = out.slice(0, i) + out.slice(i + 1 + length);
      else if (kind === 'replace') out = out.slice(0, i) + insert + out.slice(i + Math.max(1, insert.length));
      else if (kind === 'duplicate') out = out.slice(0, i + length) + out.slice(i, i + length) + out.slice(i + length);
      else out = out.slice(0, i);
    }
    return out;
  });

/** `event` as an SNS notification (what SQS receives without raw message delivery), fields overridden. */
export function snsNotification(event: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(snsWrap(event) as Record<string, unknown>), ...overrides };
}

const iso = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());

/**
 * Events built from scratch in the three families, with every field drawn from both valid and
 * invalid values: reaches the accept paths far more often than random JSON does.
 */
export const generatedEvent = fc
  .record({
    detailType: fc.constantFrom('Secret Label Updated', 'AWS Service Event via CloudTrail', 'AWS API Call via CloudTrail'),
    eventName: fc.constantFrom(
      'RotationSucceeded', 'RotationFailed', 'RotationAbandoned', 'RotationStarted', 'TestRotationSucceeded', 'PutSecretValue',
      'UpdateSecretVersionStage', 'UpdateSecret', 'RestoreSecret', 'DeleteSecret', 'RotateSecret', 'GetSecretValue', 'TagResource',
    ),
    id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 40 })),
    time: fc.option(iso, { nil: undefined }),
    resource: fc.option(arnLike, { nil: undefined }),
    label: fc.constantFrom('AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS', 'custom'),
    name: fc.option(secretName, { nil: undefined }),
    versionId: fc.option(fc.oneof(fc.uuid(), fc.string({ maxLength: 12 })), { nil: undefined }),
    secretIdParam: fc.option(arnLike, { nil: undefined }),
    responseArn: fc.option(arnLike, { nil: undefined }),
    oldArn: fc.option(arnLike, { nil: undefined }),
    additionalSecretId: fc.option(arnLike, { nil: undefined }),
    versionStages: fc.option(fc.oneof(fc.constantFrom(['AWSPENDING'], ['AWSCURRENT'], [], ['AWSCURRENT', 'custom']), fc.jsonValue({ maxDepth: 1 })), { nil: undefined }),
    versionStage: fc.option(fc.constantFrom('AWSCURRENT', 'AWSPENDING', 'custom', ''), { nil: undefined }),
    moveTo: fc.option(fc.uuid(), { nil: undefined }),
    errorCode: fc.option(fc.constantFrom('AccessDenied', 'ResourceNotFoundException', ''), { freq: 5, nil: undefined }),
    secretString: fc.option(fc.constantFrom('HIDDEN_DUE_TO_SECURITY_REASONS'), { nil: undefined }),
    wrap: fc.nat(4),
  })
  .map((g) => {
    const detail: Record<string, unknown> =
      g.detailType === 'Secret Label Updated'
        ? { labelUpdated: g.label, ...(g.name !== undefined ? { name: g.name } : {}), ...(g.versionId !== undefined ? { versionId: g.versionId } : {}) }
        : {
            eventVersion: '1.09',
            eventName: g.eventName,
            eventTime: g.time ?? '2025-01-02T03:04:05Z',
            ...(g.errorCode !== undefined ? { errorCode: g.errorCode } : {}),
            requestParameters: {
              ...(g.secretIdParam !== undefined ? { secretId: g.secretIdParam } : {}),
              ...(g.versionStages !== undefined ? { versionStages: g.versionStages } : {}),
              ...(g.versionStage !== undefined ? { versionStage: g.versionStage } : {}),
              ...(g.moveTo !== undefined ? { moveToVersionId: g.moveTo } : {}),
              ...(g.secretString !== undefined ? { secretString: g.secretString } : {}),
            },
            responseElements: {
              ...(g.responseArn !== undefined ? { arn: g.responseArn } : {}),
              ...(g.oldArn !== undefined ? { aRN: g.oldArn } : {}),
              ...(g.versionId !== undefined ? { versionId: g.versionId } : {}),
            },
            ...(g.additionalSecretId !== undefined ? { additionalEventData: { SecretId: g.additionalSecretId } } : {}),
          };
    const event = {
      version: '0',
      id: g.id,
      'detail-type': g.detailType,
      source: 'aws.secretsmanager',
      account: '123456789012',
      ...(g.time !== undefined ? { time: g.time } : {}),
      region: 'eu-west-1',
      resources: g.resource !== undefined ? [g.resource] : [],
      detail,
    };
    return g.wrap === 0 ? snsNotification(event) : event;
  });
