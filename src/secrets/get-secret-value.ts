import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RotationRelayError } from '../common/index.js';
import { classifySecretsManagerError } from './classify-error.js';
import type { VersionRef } from './errors.js';

/**
 * Which version to read. One of the two is always given: a bare GetSecretValue would return
 * moto_server's internal "default version", which UpdateSecretVersionStage does not move (see
 * test/support/moto-server.ts), and on AWS it means AWSCURRENT anyway — so we always say so.
 */
export type SecretVersionSelector = VersionRef;

/** One version of a secret, as read. `secretString` is the value: never log it. */
export interface SecretValue {
  arn: string;
  name: string;
  versionId: string;
  /** Labels on this version as this (eventually consistent) read saw them; may be empty. */
  versionStages: string[];
  secretString: string;
}

/** The secret holds `SecretBinary`: the credential clients only understand strings. */
export class BinarySecretNotSupportedError extends RotationRelayError {
  constructor(secretId: string) {
    super(
      'SECRET_BINARY_NOT_SUPPORTED',
      `secret ${secretId} holds SecretBinary; rotation-relay only supports SecretString secrets (store the value as a string, e.g. base64 or JSON)`,
    );
  }
}

/** GetSecretValue answered without the fields every real response has. */
export class IncompleteSecretValueError extends RotationRelayError {
  constructor(secretId: string, missing: string) {
    super('SECRET_VALUE_INCOMPLETE', `GetSecretValue for secret ${secretId} returned no ${missing}`);
  }
}

/**
 * GetSecretValue for one version or stage. SDK errors become the typed errors of
 * `classifySecretsManagerError` (secret or version not found, access to the secret or its KMS key
 * denied, decryption failed, unavailable…), whose messages name the secret and what to fix but
 * never echo the AWS message (it can quote request parameters).
 */
export async function getSecretValue(client: SecretsManagerClient, secretId: string, selector: SecretVersionSelector): Promise<SecretValue> {
  const input =
    'versionId' in selector ? { SecretId: secretId, VersionId: selector.versionId } : { SecretId: secretId, VersionStage: selector.versionStage };
  let output;
  try {
    output = await client.send(new GetSecretValueCommand(input));
  } catch (error) {
    throw classifySecretsManagerError(error, secretId, 'GetSecretValue', selector);
  }
  if (output.SecretString === undefined) {
    if (output.SecretBinary !== undefined) throw new BinarySecretNotSupportedError(secretId);
    throw new IncompleteSecretValueError(secretId, 'SecretString');
  }
  if (!output.ARN) throw new IncompleteSecretValueError(secretId, 'ARN');
  if (!output.VersionId) throw new IncompleteSecretValueError(secretId, 'VersionId');
  return {
    arn: output.ARN,
    name: output.Name ?? secretId,
    versionId: output.VersionId,
    versionStages: output.VersionStages ?? [],
    secretString: output.SecretString,
  };
}
