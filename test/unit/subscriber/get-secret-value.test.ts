import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SecretAccessDeniedError, SecretNotFoundError, SecretsManagerUnavailableError } from '../../../src/secrets/errors.js';
import { BinarySecretNotSupportedError, getSecretValue } from '../../../src/secrets/get-secret-value.js';
import { networkError, notFound, serverError } from './fake-secrets-manager.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';

function client() {
  const sm = new SecretsManagerClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  return { sm, mock: mockClient(sm) };
}

describe('getSecretValue', () => {
  it('passes VersionStage or VersionId and returns the version', async () => {
    const { sm, mock } = client();
    mock.on(GetSecretValueCommand).resolves({ ARN, Name: 'prod/db', VersionId: 'v1', VersionStages: ['AWSCURRENT'], SecretString: 's3cret' });

    expect(await getSecretValue(sm, 'prod/db', { versionStage: 'AWSCURRENT' })).toEqual({
      arn: ARN,
      name: 'prod/db',
      versionId: 'v1',
      versionStages: ['AWSCURRENT'],
      secretString: 's3cret',
    });
    await getSecretValue(sm, 'prod/db', { versionId: 'v1' });
    expect(mock.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([
      { SecretId: 'prod/db', VersionStage: 'AWSCURRENT' },
      { SecretId: 'prod/db', VersionId: 'v1' },
    ]);
  });

  it('refuses binary secrets with a typed error that says so', async () => {
    const { sm, mock } = client();
    mock.on(GetSecretValueCommand).resolves({ ARN, Name: 'prod/db', VersionId: 'v1', SecretBinary: new Uint8Array([1, 2, 3]) });
    const error = await getSecretValue(sm, 'prod/db', { versionStage: 'AWSCURRENT' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BinarySecretNotSupportedError);
    expect((error as BinarySecretNotSupportedError).code).toBe('SECRET_BINARY_NOT_SUPPORTED');
    expect((error as Error).message).toMatch(/prod\/db holds SecretBinary.*only supports SecretString/);
  });

  it.each([
    ['not found', notFound(), SecretNotFoundError],
    ['access denied', Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }), SecretAccessDeniedError],
    ['a 5xx', serverError(), SecretsManagerUnavailableError],
    ['a network error', networkError(), SecretsManagerUnavailableError],
  ])('classifies %s', async (_label, thrown, type) => {
    const { sm, mock } = client();
    mock.on(GetSecretValueCommand).rejects(thrown);
    await expect(getSecretValue(sm, 'prod/db', { versionStage: 'AWSCURRENT' })).rejects.toBeInstanceOf(type);
  });
});
