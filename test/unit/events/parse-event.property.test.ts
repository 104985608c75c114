import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ParseResult, parseEventBody } from '../../../src/relay/events/index.js';
import { isPartialSecretArn, isSecretName, isSecretsManagerArn } from '../../../src/secrets/index.js';
import { pathsOf, type Path } from '../../support/arbitraries.js';
import { SAMPLE_FILES, readSampleJson, snsWrap } from '../../support/event-fixtures.js';

const SAMPLES = SAMPLE_FILES.map((file) => readSampleJson(file));
const ACTIONS = ['invalidate', 'alert', 'ignore', 'reject'];

/** A deep copy of `root` with the value at `path` replaced (or deleted when `replacement` is DELETE). */
const DELETE = Symbol('delete');
function withChange(root: unknown, path: Path, replacement: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (replacement === DELETE) {
    if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
    else delete parent[last];
  } else {
    parent[last] = replacement;
  }
  return copy;
}

const arnLike = fc.oneof(
  fc.string().map((s) => `arn:aws:s3:::${s}`),
  fc.string().map((s) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${s}`),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9/_+=.@!-]{1,20}$/), fc.stringMatching(/^[A-Za-z0-9]{4,8}$/)).map(
    ([name, suffix]) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-${suffix}`,
  ),
  fc.stringMatching(/^[A-Za-z0-9/_+=.@!-]{1,30}$/),
  fc.string(),
);

const replacement = fc.oneof(
  fc.constant(DELETE),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
  arnLike,
  fc.constantFrom('AWSCURRENT', 'AWSPENDING', ['AWSPENDING'], ['AWSCURRENT'], 'RotationSucceeded', 'PutSecretValue', 'Notification'),
);

/** A real sample with 1-3 random changes, sometimes wrapped in SNS (once or twice). */
const mutatedSample = fc
  .tuple(fc.constantFrom(...SAMPLES), fc.array(fc.tuple(fc.nat(), replacement), { minLength: 1, maxLength: 3 }), fc.nat(3))
  .map(([sample, changes, wrap]) => {
    let event: unknown = sample;
    for (const [pick, value] of changes) {
      const paths = pathsOf(event);
      if (paths.length === 0) break;
      event = withChange(event, paths[pick % paths.length] as Path, value);
    }
    if (wrap === 1) return snsWrap(event);
    if (wrap === 2) return snsWrap(snsWrap(event));
    return event;
  });

/** The `requestParameters.secretId` of the event inside `body`, unwrapping SNS the same way. */
function requestSecretId(body: string): unknown {
  let value: unknown = JSON.parse(body);
  const asRecord = (v: unknown): Record<string, unknown> | undefined =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const outer = asRecord(value);
  if (outer?.['Type'] === 'Notification' && typeof outer['Message'] === 'string') value = JSON.parse(outer['Message']);
  const params = asRecord(asRecord(asRecord(value)?.['detail'])?.['requestParameters']);
  return params?.['secretId'];
}

function assertInvariants(body: string, result: ParseResult): void {
  expect(ACTIONS).toContain(result.action);
  expect(typeof result.reason).toBe('string');
  expect(result.reason.length).toBeGreaterThan(0);
  if (result.action === 'invalidate' || result.action === 'alert') {
    const { secretArn } = result;
    expect(secretArn).toBeDefined();
    if (secretArn === undefined || isSecretsManagerArn(secretArn)) return;
    // Not a full ARN: only allowed as the caller's own secretId (name or partial ARN).
    expect(isSecretName(secretArn) || isPartialSecretArn(secretArn)).toBe(true);
    expect(secretArn).toBe(requestSecretId(body));
  }
}

function parseChecked(body: string): void {
  let result: ParseResult | undefined;
  expect(() => {
    result = parseEventBody(body);
  }).not.toThrow();
  assertInvariants(body, result as ParseResult);
}

describe('parseEventBody: properties', () => {
  it('never throws and keeps its invariants for arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        parseChecked(JSON.stringify(value) ?? 'null');
      }),
      { numRuns: 500 },
    );
  });

  it('never throws for arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (text) => {
        parseChecked(text);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws and keeps its invariants for mutated real samples', () => {
    fc.assert(
      fc.property(mutatedSample, (event) => {
        parseChecked(JSON.stringify(event));
      }),
      { numRuns: 1500 },
    );
  });
});
