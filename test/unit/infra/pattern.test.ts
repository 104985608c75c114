import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  InfraError,
  loadBasePattern,
  narrowPattern,
  PATTERN_DEFAULT_QUOTA,
  scopeFilter,
  serializePattern,
  type AccountContext,
} from '../../../src/ops/infra/index.js';

const CTX: AccountContext = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' };
const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf';
const dir = mkdtempSync(join(tmpdir(), 'rr-pattern-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function patternFile(content: unknown): URL {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return pathToFileURL(file);
}

type Branch = { 'detail-type': string[]; resources?: unknown; detail: Record<string, unknown> };
const branches = (pattern: Record<string, unknown>) => pattern['$or'] as Branch[];
const branch = (pattern: Record<string, unknown>, type: string) => branches(pattern).find((b) => b['detail-type'][0] === type) as Branch;

describe('infra/event-pattern.json', () => {
  const base = loadBasePattern();

  it('routes only aws.secretsmanager events of the three families', () => {
    expect(base['source']).toEqual(['aws.secretsmanager']);
    expect(branches(base).map((b) => b['detail-type'])).toEqual([['Secret Label Updated'], ['AWS Service Event via CloudTrail'], ['AWS API Call via CloudTrail']]);
  });

  it('selects AWSCURRENT label moves, the rotation outcomes and the value-changing API calls that succeeded', () => {
    expect(branch(base, 'Secret Label Updated').detail).toEqual({ labelUpdated: ['AWSCURRENT'] });
    expect(branch(base, 'AWS Service Event via CloudTrail').detail['eventName']).toEqual(['RotationSucceeded', 'RotationFailed', 'RotationAbandoned']);
    expect(branch(base, 'AWS API Call via CloudTrail').detail).toEqual({
      eventName: ['PutSecretValue', 'UpdateSecretVersionStage', 'UpdateSecret', 'RestoreSecret', 'DeleteSecret'],
      errorCode: [{ exists: false }],
    });
  });

  it('fits the default EventBridge quota with room for narrowing', () => {
    expect(serializePattern(base).length).toBeLessThan(PATTERN_DEFAULT_QUOTA / 3);
  });
});

describe('narrowPattern', () => {
  const base = loadBasePattern();

  it('returns an equal copy without a filter', () => {
    const copy = narrowPattern(base, undefined);
    expect(copy).toEqual(base);
    expect(copy).not.toBe(base);
  });

  it('filters each family on the field that names the secret (CloudTrail events have resources: [])', () => {
    // Act
    const narrowed = narrowPattern(base, [ARN]);

    // Assess
    expect(branch(narrowed, 'Secret Label Updated').resources).toEqual([ARN]);
    expect(branch(narrowed, 'AWS Service Event via CloudTrail').detail['additionalEventData']).toEqual({ SecretId: [ARN] });
    expect(branch(narrowed, 'AWS API Call via CloudTrail').detail['$or']).toEqual([{ responseElements: { arn: [ARN] } }, { responseElements: { aRN: [ARN] } }]);
    expect(branch(narrowed, 'AWS API Call via CloudTrail').resources).toBeUndefined();
    expect(narrowed['source']).toEqual(['aws.secretsmanager']);
  });

  it('leaves the base pattern untouched', () => {
    const before = JSON.stringify(base);
    narrowPattern(base, [ARN]);
    expect(JSON.stringify(base)).toBe(before);
  });

  it('turns a name prefix into an ARN prefix in this account and region', () => {
    // Act
    const narrowed = narrowPattern(base, scopeFilter({ kind: 'prefix', prefix: 'prod/' }, CTX));

    // Assess
    expect(branch(narrowed, 'Secret Label Updated').resources).toEqual([{ prefix: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/' }]);
  });

  it('stays within the default quota for a prefix and for four ARNs', () => {
    const prefix = narrowPattern(base, scopeFilter({ kind: 'prefix', prefix: 'some/long/prefix/for/an/application/' }, CTX));
    const arns = narrowPattern(base, [0, 1, 2, 3].map((i) => ARN.replace('prod/db', `prod/database-${i}`)));
    expect(serializePattern(prefix).length).toBeLessThanOrEqual(PATTERN_DEFAULT_QUOTA);
    expect(serializePattern(arns).length).toBeLessThanOrEqual(PATTERN_DEFAULT_QUOTA);
  });
});

describe('loadBasePattern', () => {
  const valid = loadBasePattern();

  it.each([
    ['not JSON', '{', /not JSON/],
    ['another source', { ...valid, source: ['aws.s3'] }, /"source" must be \["aws\.secretsmanager"\]/],
    ['no $or', { source: ['aws.secretsmanager'] }, /top-level "\$or"/],
    ['an unknown detail-type', { ...valid, $or: [{ 'detail-type': ['Object Created'], detail: {} }] }, /every "\$or" branch/],
    ['a family twice', { ...valid, $or: [...(valid['$or'] as unknown[]), (valid['$or'] as unknown[])[0]] }, /appears in two branches/],
  ])('refuses a pattern file with %s', (_label, content, message) => {
    expect(() => loadBasePattern(patternFile(content))).toThrow(InfraError);
    expect(() => loadBasePattern(patternFile(content))).toThrow(message);
  });
});
