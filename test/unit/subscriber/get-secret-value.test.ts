import {
  DecryptionFailure,
  GetSecretValueCommand,
  InternalServiceError,
  InvalidParameterException,
  InvalidRequestException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  SecretAccessDeniedError,
  SecretCredentialsRejectedError,
  SecretDecryptionError,
  SecretKmsAccessDeniedError,
  SecretNotFoundError,
  SecretRequestInvalidError,
  SecretScheduledForDeletionError,
  SecretsManagerUnavailableError,
  SecretVersionNotFoundError,
} from '../../../src/secrets/errors.js';
import { BinarySecretNotSupportedError, getSecretValue, type SecretVersionSelector } from '../../../src/secrets/get-secret-value.js';
import { networkError, notFound, serverError } from '../../support/secrets-manager-client-double.js';

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

/** A service error as the SDK deserializes it, for the codes the SDK has no class for. */
function serviceError(name: string, message: string, fault: 'client' | 'server' = 'client'): Error {
  return new SecretsManagerServiceException({ name, message, $fault: fault, $metadata: { httpStatusCode: fault === 'client' ? 400 : 500 } });
}

const meta = { $metadata: { httpStatusCode: 400 } };
// What AWS says; the messages below quote request parameters, which must never reach ours.
const QUOTED = 'QUOTED-REQUEST-PARAMETER';

describe('getSecretValue: every error Secrets Manager can answer names what to fix', () => {
  it.each([
    {
      label: 'ResourceNotFoundException for a missing secret',
      thrown: new ResourceNotFoundException({ ...meta, message: "Secrets Manager can't find the specified secret." }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretNotFoundError,
      code: 'SECRET_NOT_FOUND',
      says: /secret prod\/db was not found in Secrets Manager: check the secret id .* the region \(AWS_REGION\)/,
    },
    {
      label: 'ResourceNotFoundException for a missing version id',
      thrown: new ResourceNotFoundException({ ...meta, message: `Secrets Manager can't find the specified secret value for VersionId: ${QUOTED}` }),
      selector: { versionId: 'v-gone' },
      type: SecretVersionNotFoundError,
      code: 'SECRET_VERSION_NOT_FOUND',
      says: /secret prod\/db exists but has no version v-gone/,
    },
    {
      label: 'ResourceNotFoundException for a staging label no version carries',
      thrown: new ResourceNotFoundException({ ...meta, message: `Secrets Manager can't find the specified secret value for staging label: ${QUOTED}` }),
      selector: { versionStage: 'AWSPENDING' },
      type: SecretVersionNotFoundError,
      code: 'SECRET_VERSION_NOT_FOUND',
      says: /secret prod\/db exists but no version carries the staging label AWSPENDING/,
    },
    {
      label: 'ResourceNotFoundException whose message does not say which',
      thrown: new ResourceNotFoundException({ ...meta, message: 'Not found.' }),
      selector: { versionId: 'v-2' },
      type: SecretNotFoundError,
      code: 'SECRET_NOT_FOUND',
      says: /secret prod\/db, or version v-2 of it, was not found/,
    },
    {
      label: 'InvalidRequestException for a secret scheduled for deletion',
      thrown: new InvalidRequestException({ ...meta, message: "You can't perform this operation on the secret because it was marked for deletion." }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretScheduledForDeletionError,
      code: 'SECRET_SCHEDULED_FOR_DELETION',
      says: /secret prod\/db is scheduled for deletion.*restore-secret --secret-id prod\/db/,
    },
    {
      label: 'InvalidRequestException for another state',
      thrown: new InvalidRequestException({ ...meta, message: `You provided a parameter value that is not valid for the current state of the resource: ${QUOTED}` }),
      selector: { versionId: 'v-2' },
      type: SecretRequestInvalidError,
      code: 'SECRET_REQUEST_INVALID',
      says: /refused GetSecretValue for secret prod\/db as invalid \(InvalidRequestException\).*version v-2 asked for/,
    },
    {
      label: 'InvalidParameterException',
      thrown: new InvalidParameterException({ ...meta, message: `You provided an invalid value for the parameter: ${QUOTED}` }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretRequestInvalidError,
      code: 'SECRET_REQUEST_INVALID',
      says: /refused GetSecretValue for secret prod\/db as invalid \(InvalidParameterException\): check that the secret id is a name or a full ARN/,
    },
    {
      label: 'DecryptionFailure',
      thrown: new DecryptionFailure({ ...meta, message: `Secrets Manager can't decrypt the protected secret text using the provided KMS key. ${QUOTED}` }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretDecryptionError,
      code: 'SECRET_DECRYPTION_FAILED',
      says: /could not decrypt secret prod\/db with its KMS key \(DecryptionFailure\).*enabled and not pending deletion.*grant kms:Decrypt/,
    },
    {
      label: 'AccessDeniedException naming KMS',
      thrown: serviceError('AccessDeniedException', `Access to KMS is not allowed ${QUOTED}`),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretKmsAccessDeniedError,
      code: 'SECRET_KMS_ACCESS_DENIED',
      says: /not allowed to decrypt secret prod\/db \(GetSecretValue\): grant kms:Decrypt on the secret's KMS key/,
    },
    {
      label: 'AccessDeniedException for the secret',
      thrown: serviceError('AccessDeniedException', `User: ${QUOTED} is not authorized to perform: secretsmanager:GetSecretValue`),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretAccessDeniedError,
      code: 'SECRET_ACCESS_DENIED',
      says: /not allowed to call GetSecretValue on secret prod\/db: grant secretsmanager:GetSecretValue on the secret's ARN .*AppPolicy/,
    },
    {
      label: 'ExpiredTokenException',
      thrown: serviceError('ExpiredTokenException', `The security token included in the request is expired ${QUOTED}`),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretCredentialsRejectedError,
      code: 'SECRET_CREDENTIALS_REJECTED',
      says: /AWS rejected the credentials used for GetSecretValue on secret prod\/db \(ExpiredTokenException\).*renew them/,
    },
    {
      label: 'UnrecognizedClientException',
      thrown: serviceError('UnrecognizedClientException', `The security token included in the request is invalid. ${QUOTED}`),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretCredentialsRejectedError,
      code: 'SECRET_CREDENTIALS_REJECTED',
      says: /\(UnrecognizedClientException\): they are expired or invalid/,
    },
    {
      label: 'ThrottlingException',
      thrown: serviceError('ThrottlingException', `Rate exceeded ${QUOTED}`),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /GetSecretValue for secret prod\/db failed: ThrottlingException, throttled by Secrets Manager; retried with backoff/,
    },
    {
      label: 'InternalServiceError',
      thrown: new InternalServiceError({ $metadata: { httpStatusCode: 500 }, message: QUOTED }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /failed: InternalServiceError, a Secrets Manager server error; retried with backoff/,
    },
    {
      label: 'a refused connection',
      thrown: Object.assign(networkError(), { message: `connect ECONNREFUSED ${QUOTED}` }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /failed: ECONNREFUSED, Secrets Manager could not be reached; check the network, a proxy, or AWS_ENDPOINT_URL/,
    },
    {
      label: 'a timeout',
      thrown: Object.assign(new Error(`Connection timed out after 1000 ms ${QUOTED}`), { name: 'TimeoutError' }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /failed: TimeoutError, the call timed out/,
    },
    {
      label: 'no credentials at all',
      thrown: Object.assign(new Error(`Could not load credentials from any providers ${QUOTED}`), { name: 'CredentialsProviderError' }),
      selector: { versionStage: 'AWSCURRENT' },
      type: SecretsManagerUnavailableError,
      code: 'SECRETS_MANAGER_UNAVAILABLE',
      says: /failed: CredentialsProviderError, no AWS credentials were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/,
    },
  ] as Array<{ label: string; thrown: Error; selector: SecretVersionSelector; type: new (...args: never[]) => Error; code: string; says: RegExp }>)(
    'classifies $label with a message that says what to fix and keeps the AWS error as cause only',
    async ({ thrown, selector, type, code, says }) => {
      // Prepare
      const { sm, mock } = client();
      mock.on(GetSecretValueCommand).rejects(thrown);

      // Act
      const error = await getSecretValue(sm, 'prod/db', selector).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject({ code, cause: thrown });
      expect((error as Error).message).toMatch(says);
      expect((error as Error).message).not.toContain(QUOTED);
    },
  );

  it('keeps a missing version a SecretNotFoundError, so callers that only ask "is there anything to read" keep working', async () => {
    // Prepare
    const { sm, mock } = client();
    mock.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ ...meta, message: "Secrets Manager can't find the specified secret value for staging label: AWSPENDING" }));

    // Act
    const error = await getSecretValue(sm, 'prod/db', { versionStage: 'AWSPENDING' }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect(error).toMatchObject({ code: 'SECRET_VERSION_NOT_FOUND', version: { versionStage: 'AWSPENDING' } });
  });

  it('tells a missing version from a missing secret against the messages moto_server gives', async () => {
    // Prepare: moto_server's own wording (test/support/moto-server.ts), as the SDK raises it.
    const { sm, mock } = client();
    mock
      .on(GetSecretValueCommand, { VersionId: 'v-gone' })
      .rejects(new ResourceNotFoundException({ ...meta, message: "Secrets Manager can't find the specified secret value for VersionId: v-gone" }))
      .on(GetSecretValueCommand, { SecretId: 'app/missing' })
      .rejects(new ResourceNotFoundException({ ...meta, message: "Secrets Manager can't find the specified secret." }));

    // Act
    const version = await getSecretValue(sm, 'prod/db', { versionId: 'v-gone' }).catch((caught: unknown) => caught);
    const secret = await getSecretValue(sm, 'app/missing', { versionId: 'v-1' }).catch((caught: unknown) => caught);

    // Assess
    expect(version).toMatchObject({ code: 'SECRET_VERSION_NOT_FOUND' });
    expect(secret).toMatchObject({ code: 'SECRET_NOT_FOUND' });
    expect(secret).not.toBeInstanceOf(SecretVersionNotFoundError);
  });
});
