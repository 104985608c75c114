import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { registerSecretValue } from './leak-guard.js';
import { type MotoHandle, motoClientConfig } from './moto-server.js';

export interface TestSecret {
  arn: string;
  name: string;
  versionId: string;
  /** Every value this secret has held, for leak scans. */
  values: string[];
}

/** A fresh random value; tests never log it, and leak scans look for it everywhere. */
export function randomSecretValue(): string {
  const value = JSON.stringify({ username: 'app', password: `pw-${randomBytes(12).toString('hex')}` });
  registerSecretValue(value, 'randomSecretValue()');
  return value;
}

/**
 * Secrets Manager operations as tests need them, against moto_server. `rotate` performs the
 * steps a rotation Lambda does: createSecret (PutSecretValue with AWSPENDING), then finishSecret
 * (UpdateSecretVersionStage moving AWSCURRENT, which makes the old version AWSPREVIOUS).
 */
export class MotoSecrets {
  readonly client: SecretsManagerClient;

  constructor(moto: MotoHandle) {
    this.client = new SecretsManagerClient(motoClientConfig(moto));
  }

  async create(name: string, value: string = randomSecretValue()): Promise<TestSecret> {
    registerSecretValue(value, `MotoSecrets value of ${name}`); // for the secret-leak guard
    const created = await this.client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    if (!created.ARN || !created.VersionId) throw new Error(`CreateSecret ${name} returned no ARN/version`);
    return { arn: created.ARN, name, versionId: created.VersionId, values: [value] };
  }

  /** createSecret step only: the new version exists with AWSPENDING; AWSCURRENT has not moved. */
  async putPending(secret: TestSecret, value: string = randomSecretValue()): Promise<string> {
    const versionId = randomUUID();
    registerSecretValue(value, `MotoSecrets value of ${secret.name}`);
    await this.client.send(
      new PutSecretValueCommand({ SecretId: secret.arn, SecretString: value, ClientRequestToken: versionId, VersionStages: ['AWSPENDING'] }),
    );
    secret.values.push(value);
    return versionId;
  }

  /** finishSecret step: AWSCURRENT moves to `versionId`. */
  async moveCurrent(secret: TestSecret, versionId: string): Promise<void> {
    const current = await this.currentVersion(secret.arn);
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secret.arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: versionId,
        RemoveFromVersionId: current,
      }),
    );
    secret.versionId = versionId;
  }

  /** A whole rotation; returns the new current version. */
  async rotate(secret: TestSecret): Promise<string> {
    const versionId = await this.putPending(secret);
    await this.moveCurrent(secret, versionId);
    return versionId;
  }

  async currentVersion(secretId: string): Promise<string> {
    const described = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    const entry = Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'));
    if (!entry) throw new Error(`${secretId} has no AWSCURRENT version`);
    return entry[0];
  }
}
