import {
  DescribeSecretCommand,
  InternalServiceError,
  InvalidParameterException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  describeCurrentVersion,
  SecretAccessDeniedError,
  SecretCredentialsRejectedError,
  SecretNotFoundError,
  SecretRequestInvalidError,
  SecretsManagerUnavailableError,
  SecretVersionNotFoundError,
} from '../../../src/secrets/index.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const QUOTED = 'QUOTED-REQUEST-PARAMETER';
const meta = { $metadata: { httpStatusCode: 400 } };

function client() {
  const sm = new SecretsManagerClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  return { sm, mock: mockClient(sm) };
}

function serviceError(name: string, message: string): Error {
  return new SecretsManagerServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

describe('describeCurrentVersion: every error DescribeSecret can answer names what to fix', () => {
  it.each([
    {
      label: 'ResourceNotFoundException',
      thrown: new ResourceNotFoundException({ ...meta, message: "Secrets Manager can't find the specified secret." }),
      type: SecretNotFoundError,
      code: 'SECRET_NOT_FOUND',
      says: /secret prod\/db was not found in Secrets Manager: check the secret id/,
    },
    {
      label: 'InvalidParameterException',
      thrown: new InvalidParameterException({ ...meta, message: `Invalid name. ${QUOTED}` }),
      type: SecretRequestInvalidError,
      code: 'SECRET_REQUEST_INVALID',
      says: /refused DescribeSecret for secret prod\/db as invalid \(InvalidParameterException\): check that the secret id is a name or a full ARN$/,
    },
    {
      label: 'AccessDeniedException',
      thrown: serviceError('AccessDeniedException', `User: ${QUOTED} is not authorized to perform: secretsmanager:DescribeSecret`),
      type: SecretAccessDeniedError,
      code: 'SECRET_ACCESS_DENIED',
      says: /not allowed to call DescribeSecret on secret prod\/db: grant secretsmanager:DescribeSecret on the secret's ARN .*WorkerPolicy/,
    },
    {
      label: 'InvalidSignatureException',
      thrown: serviceError('InvalidSignatureException', `The request signature we calculated does not match ${QUOTED}`),
      type: SecretCredentialsRejectedError,
      code: 'SECRET_CREDENTIALS_REJECTED',
      says: /AWS rejected the credentials used for DescribeSecret on secret prod\/db \(InvalidSignatureException\)/,
    },
    {
      label: 'ThrottlingException',
      thrown: serviceError('ThrottlingException', `Rate exceeded ${QUOTED}`),
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /DescribeSecret for secret prod\/db failed: ThrottlingException, throttled/,
    },
    {
      label: 'InternalServiceError',
      thrown: new InternalServiceError({ $metadata: { httpStatusCode: 500 }, message: QUOTED }),
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /failed: InternalServiceError, a Secrets Manager server error/,
    },
    {
      label: 'a reset connection',
      thrown: Object.assign(new Error(`socket hang up ${QUOTED}`), { code: 'ECONNRESET' }),
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /failed: ECONNRESET, Secrets Manager could not be reached/,
    },
  ] as Array<{ label: string; thrown: Error; type: new (...args: never[]) => Error; code: string; says: RegExp }>)(
    'classifies $label and keeps the AWS error as cause only',
    async ({ thrown, type, code, says }) => {
      // Prepare
      const { sm, mock } = client();
      mock.on(DescribeSecretCommand).rejects(thrown);

      // Act
      const error = await describeCurrentVersion(sm, 'prod/db').catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject({ code, cause: thrown });
      expect((error as Error).message).toMatch(says);
      expect((error as Error).message).not.toContain(QUOTED);
    },
  );

  it('never reports a missing version: DescribeSecret names no version, so a not-found is the secret', async () => {
    // Prepare
    const { sm, mock } = client();
    mock.on(DescribeSecretCommand).rejects(new ResourceNotFoundException({ ...meta, message: "Secrets Manager can't find the specified secret value for VersionId: v" }));

    // Act
    const error = await describeCurrentVersion(sm, ARN).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect(error).not.toBeInstanceOf(SecretVersionNotFoundError);
  });
});
