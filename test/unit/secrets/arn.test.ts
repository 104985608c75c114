import { describe, expect, it } from 'vitest';
import {
  isPartialSecretArn,
  isSecretName,
  isSecretsManagerArn,
  parseSecretArn,
  secretIdMatches,
  secretNameFromArn,
  secretNameFromId,
} from '../../../src/secrets/index.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';

describe('secrets/arn: isSecretsManagerArn', () => {
  it.each([
    ['a plain ARN', ARN],
    ['aws-cn', 'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x-AbCdEf'],
    ['aws-us-gov', 'arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x-AbCdEf'],
    ['aws-iso', 'arn:aws-iso:secretsmanager:us-iso-east-1:123456789012:secret:x-AbCdEf'],
    ['aws-iso-b', 'arn:aws-iso-b:secretsmanager:us-isob-east-1:123456789012:secret:x-AbCdEf'],
    ['the AWS sample account "accountid"', 'arn:aws:secretsmanager:us-west-2:accountid:secret:Appuser-pyodbc-WoDpmU'],
    ['an RDS-managed secret', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0e3b8c2f-8f5a-4b7e-9a1c-2d3e4f5a6b7c-AbC123'],
    ['a name with + = . @', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:a+b=c.d@e-AbC123'],
  ])('accepts %s', (_label, arn) => {
    // Prepare: the ARN itself

    // Act
    const result = isSecretsManagerArn(arn);

    // Assess
    expect(result).toBe(true);
  });

  it.each([
    ['an S3 ARN', 'arn:aws:s3:::bucket'],
    ['a Lambda ARN', 'arn:aws:lambda:us-east-2:123456789012:function:rotate'],
    ['an ARN without the suffix', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod'],
    ['a 5-character suffix', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-AbCdE'],
    ['an unknown partition', 'arn:foo:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf'],
    ['an 11-digit account', 'arn:aws:secretsmanager:eu-west-1:12345678901:secret:prod/db-AbCdEf'],
    ['a colon in the name', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a:b-AbCdEf'],
    ['a space in the name', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a b-AbCdEf'],
    ['a bare name', 'prod/db'],
    ['a non-string', 42],
  ])('refuses %s', (_label, value) => {
    // Prepare: the value itself

    // Act
    const result = isSecretsManagerArn(value);

    // Assess
    expect(result).toBe(false);
  });
});

describe('secrets/arn: names and parts', () => {
  it('splits an ARN into its parts', () => {
    // Prepare: ARN

    // Act
    const parts = parseSecretArn(ARN);

    // Assess
    expect(parts).toEqual({
      arn: ARN,
      partition: 'aws',
      region: 'eu-west-1',
      account: '123456789012',
      name: 'prod/db',
      suffix: 'AbCdEf',
    });
  });

  it('strips only the last dash and 6 characters from the name', () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-extra-AbCdEf';

    // Act
    const name = secretNameFromArn(arn);

    // Assess
    expect(name).toBe('prod/db-extra');
  });

  it('returns undefined for a name that is not an ARN', () => {
    // Prepare: a bare name

    // Act
    const name = secretNameFromArn('prod/db');

    // Assess
    expect(name).toBeUndefined();
  });

  it('tells partial ARNs, bare names and full ARNs apart', () => {
    // Prepare
    const partial = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db';

    // Act
    const kinds = [isPartialSecretArn(partial), isPartialSecretArn(ARN), isSecretName('rds!db-123'), isSecretName(partial)];

    // Assess
    expect(kinds).toEqual([true, false, true, false]);
    expect(secretNameFromId(partial)).toBe('prod/db');
    expect(secretNameFromId('a b')).toBeUndefined();
  });
});

describe('secrets/arn: secretIdMatches', () => {
  it.each([
    ['the same ARN', ARN, ARN, true],
    ['the name against its ARN', 'prod/db', ARN, true],
    ['the ARN against the bare name an event carried', ARN, 'prod/db', true],
    ['a partial ARN against the full ARN', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db', ARN, true],
    ['a partial ARN of another region', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db', ARN, false],
    ['a prefix of the name', 'prod/db', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-extra-AbCdEf', false],
    ['the name with a 5-character suffix', 'prod/db', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdE', false],
    ['the name with a 7-character suffix', 'prod/db', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEfG', false],
    ['a different name', 'prod/other', ARN, false],
    ['a name differing only in case', 'Prod/DB', ARN, false],
    ['an RDS-managed name', 'rds!db-1234', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1234-Xy12Zz', true],
    ['two different ARNs of the same name', ARN, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-ZzZzZz', false],
  ])('matches %s: %s vs %s → %s', (_label, configured, eventId, expected) => {
    // Prepare: the two ids

    // Act
    const result = secretIdMatches(configured, eventId);

    // Assess
    expect(result).toBe(expected);
  });
});
