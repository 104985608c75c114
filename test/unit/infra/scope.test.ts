import { describe, expect, it } from 'vitest';
import { ALL_SECRETS, parseScope, ScopeError, scopeFilter, scopeIncludes, type AccountContext } from '../../../src/ops/infra/index.js';
import { inScopeArn } from '../../../src/ops/infra/scope.js';

const CTX: AccountContext = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' };
const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf';

describe('parseScope', () => {
  it('refuses no flags at all, naming the flags and the * that asks for every secret', () => {
    expect(() => parseScope(undefined, undefined)).toThrow(ScopeError);
    expect(() => parseScope(undefined, undefined)).toThrow(/say which secrets to forward: --secret-prefix PREFIX or --secret-arn ARN.*--secret-prefix '\*' forwards every secret/);
    expect(() => parseScope([], undefined)).toThrow(ScopeError);
  });

  it("is every secret only with --secret-prefix '*'", () => {
    expect(parseScope(undefined, ALL_SECRETS)).toEqual({ kind: 'all' });
    expect(ALL_SECRETS).toBe('*');
  });

  it('takes repeated --secret-arn, without duplicates', () => {
    expect(parseScope([ARN, ARN], undefined)).toEqual({ kind: 'arns', arns: [ARN] });
  });

  it('takes --secret-prefix', () => {
    expect(parseScope(undefined, 'prod/')).toEqual({ kind: 'prefix', prefix: 'prod/' });
  });

  it.each([
    [[ARN], 'prod/', /not both/],
    [['prod/db'], undefined, /not a full Secrets Manager ARN/],
    [['arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db'], undefined, /not a full Secrets Manager ARN/],
    [['arn:aws:s3:::bucket'], undefined, /not a full Secrets Manager ARN/],
    [undefined, 'has space', /--secret-prefix/],
    [undefined, '', /--secret-prefix/],
    [undefined, 'prod/*', /--secret-prefix "prod\/\*" must be 1-256 characters .* or '\*' for every secret/],
    [[ARN], '*', /not both/],
  ])('refuses %j / %j', (arns, prefix, message) => {
    expect(() => parseScope(arns, prefix)).toThrow(ScopeError);
    expect(() => parseScope(arns, prefix)).toThrow(message);
  });
});

describe('scope filters and membership', () => {
  it('matches exact ARNs or the ARN prefix of a name prefix, in this account and region', () => {
    // Prepare
    const byArn = parseScope([ARN], undefined);
    const byPrefix = parseScope(undefined, 'prod/');

    // Assess
    expect(scopeFilter(byArn, CTX)).toEqual([ARN]);
    expect(scopeFilter(byPrefix, CTX)).toEqual([{ prefix: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/' }]);
    expect(scopeFilter({ kind: 'all' }, CTX)).toBeUndefined();
    expect(scopeIncludes(byArn, CTX, ARN)).toBe(true);
    expect(scopeIncludes(byArn, CTX, ARN.replace('AbCdEf', 'XyZxYz'))).toBe(false);
    expect(scopeIncludes(byPrefix, CTX, ARN)).toBe(true);
    expect(scopeIncludes(byPrefix, CTX, ARN.replace('eu-west-1', 'us-east-1'))).toBe(false);
    expect(scopeIncludes(byPrefix, CTX, ARN.replace('prod/', 'dev/'))).toBe(false);
  });

  it.each([
    ['ARNs', parseScope([ARN], undefined)],
    ['prefix', parseScope(undefined, 'prod/')],
    ['all', parseScope(undefined, '*')],
  ])('builds an in-scope ARN for verify (%s)', (_label, scope) => {
    expect(scopeIncludes(scope, CTX, inScopeArn(scope, CTX))).toBe(true);
  });
});
