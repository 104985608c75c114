import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { classifySecretsManagerError } from './classify-error.js';
import { NoCurrentVersionError } from './errors.js';

export interface CurrentVersion {
  arn: string;
  name: string;
  /** The version that carries AWSCURRENT right now (as far as this eventually consistent read knows). */
  versionId: string;
  /** The version carrying AWSPENDING, when a rotation is under way. */
  pendingVersionId?: string;
  /** Every version this read knows, with its labels (`[]` for a deprecated one). */
  stagesByVersion?: Record<string, string[]>;
}

/**
 * Which version is current, read with DescribeSecret: it returns metadata and the version-to-label
 * map but never the value, which is why the worker's IAM policy needs no GetSecretValue.
 */
export async function describeCurrentVersion(client: SecretsManagerClient, secretId: string): Promise<CurrentVersion> {
  let output;
  try {
    output = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  } catch (error) {
    throw classifySecretsManagerError(error, secretId, 'DescribeSecret');
  }
  const stages = Object.entries(output.VersionIdsToStages ?? {});
  const current = stages.find(([, labels]) => labels.includes('AWSCURRENT'))?.[0];
  const pending = stages.find(([, labels]) => labels.includes('AWSPENDING'))?.[0];
  if (!current || !output.ARN || !output.Name) throw new NoCurrentVersionError(secretId);
  return {
    arn: output.ARN,
    name: output.Name,
    versionId: current,
    ...(pending ? { pendingVersionId: pending } : {}),
    stagesByVersion: Object.fromEntries(stages),
  };
}
