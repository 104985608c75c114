import { randomBytes, randomUUID } from 'node:crypto';
import {
  GetSecretValueCommand,
  InternalServiceError,
  ResourceNotFoundException,
  SecretsManagerClient,
  type GetSecretValueCommandInput,
  type GetSecretValueCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

interface Version {
  versionId: string;
  value: string;
  stages: string[];
}

interface DoubleSecret {
  name: string;
  arn: string;
  versions: Version[];
}

/**
 * A DOUBLE: a programmable Secrets Manager behind `aws-sdk-client-mock` (unit tests only): secrets with
 * versions and staging labels, GetSecretValue by VersionId or VersionStage, rotations, injected
 * failures, and a record of every GetSecretValue input so tests can count reads.
 */
export class SecretsManagerClientDouble {
  readonly client = new SecretsManagerClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  readonly mock: AwsClientStub<SecretsManagerClient>;
  readonly calls: GetSecretValueCommandInput[] = [];
  /** Every value any secret held: what a leak scan looks for. */
  readonly values: string[] = [];
  private readonly secrets = new Map<string, DoubleSecret>();
  /** When set, every read fails with what it returns (or answers normally when it returns undefined). */
  private failure: ((input: GetSecretValueCommandInput) => Error | undefined) | undefined;
  /** Reads of AWSCURRENT answer the previous version this many more times (eventual consistency). */
  private staleReads = 0;
  private staleVersion: Version | undefined;

  constructor() {
    this.mock = mockClient(this.client);
    this.mock.on(GetSecretValueCommand).callsFake(async (input: GetSecretValueCommandInput) => this.answer(input));
  }

  /** Creates a secret with a random JSON value; returns its ARN. */
  create(name: string, value = randomValue()): string {
    const arn = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-${randomSuffix()}`;
    this.values.push(value);
    this.secrets.set(name, { name, arn, versions: [{ versionId: randomUUID(), value, stages: ['AWSCURRENT'] }] });
    return arn;
  }

  /** PutSecretValue with AWSPENDING: returns the new version id. */
  putPending(name: string, value = randomValue()): string {
    const secret = this.secret(name);
    for (const version of secret.versions) version.stages = version.stages.filter((stage) => stage !== 'AWSPENDING');
    const versionId = randomUUID();
    this.values.push(value);
    secret.versions.push({ versionId, value, stages: ['AWSPENDING'] });
    return versionId;
  }

  /** UpdateSecretVersionStage: AWSCURRENT moves, the old current becomes AWSPREVIOUS. `keepPending` models moto. */
  moveCurrent(name: string, versionId: string, { keepPending = false, staleReads = 0 } = {}): void {
    const secret = this.secret(name);
    const old = secret.versions.find((version) => version.stages.includes('AWSCURRENT'));
    for (const version of secret.versions) version.stages = version.stages.filter((stage) => stage !== 'AWSPREVIOUS');
    if (old) old.stages = ['AWSPREVIOUS'];
    const next = secret.versions.find((version) => version.versionId === versionId);
    if (!next) throw new Error(`no version ${versionId}`);
    next.stages = keepPending ? ['AWSCURRENT', 'AWSPENDING'] : ['AWSCURRENT'];
    this.staleReads = staleReads;
    this.staleVersion = old ? { ...old, stages: ['AWSCURRENT'] } : undefined;
  }

  /** Replaces every label of one version (`[]` deprecates it; labels other versions hold stay). */
  setStages(name: string, versionId: string, stages: string[]): void {
    const version = this.secret(name).versions.find((candidate) => candidate.versionId === versionId);
    if (!version) throw new Error(`no version ${versionId}`);
    version.stages = [...stages];
  }

  /** A whole rotation; returns the new current version id. */
  rotate(name: string, options: { keepPending?: boolean; staleReads?: number } = {}): string {
    const versionId = this.putPending(name);
    this.moveCurrent(name, versionId, options);
    return versionId;
  }

  currentVersion(name: string): string {
    const current = this.secret(name).versions.find((version) => version.stages.includes('AWSCURRENT'));
    if (!current) throw new Error(`${name} has no AWSCURRENT`);
    return current.versionId;
  }

  arn(name: string): string {
    return this.secret(name).arn;
  }

  failWith(rule: ((input: GetSecretValueCommandInput) => Error | undefined) | undefined): void {
    this.failure = rule;
  }

  /** GetSecretValue inputs so far, optionally only those for one selector. */
  reads(filter: { stage?: string; versionId?: string } = {}): GetSecretValueCommandInput[] {
    return this.calls.filter(
      (call) =>
        (filter.stage === undefined || call.VersionStage === filter.stage) && (filter.versionId === undefined || call.VersionId === filter.versionId),
    );
  }

  private answer(input: GetSecretValueCommandInput): GetSecretValueCommandOutput {
    this.calls.push({ ...input });
    const injected = this.failure?.(input);
    if (injected) throw injected;
    const secret = [...this.secrets.values()].find((candidate) => candidate.name === input.SecretId || candidate.arn === input.SecretId);
    if (!secret) throw notFound();
    let version: Version | undefined;
    if (input.VersionId !== undefined) {
      version = secret.versions.find((candidate) => candidate.versionId === input.VersionId);
    } else {
      const stage = input.VersionStage ?? 'AWSCURRENT';
      if (stage === 'AWSCURRENT' && this.staleReads > 0 && this.staleVersion) {
        this.staleReads -= 1;
        version = this.staleVersion;
      } else {
        version = secret.versions.find((candidate) => candidate.stages.includes(stage));
      }
    }
    if (!version) throw notFound();
    return {
      $metadata: { httpStatusCode: 200 },
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      VersionStages: [...version.stages],
      SecretString: version.value,
      CreatedDate: new Date(),
    };
  }

  private secret(name: string): DoubleSecret {
    const secret = this.secrets.get(name);
    if (!secret) throw new Error(`no double secret ${name}`);
    return secret;
  }
}

export function randomValue(): string {
  return JSON.stringify({ username: 'app', password: `pw-${randomBytes(12).toString('hex')}` });
}

function randomSuffix(): string {
  return randomBytes(6).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 6);
}

export function notFound(): Error {
  return new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: { httpStatusCode: 400 } });
}

/** A 5xx as the SDK raises it. */
export function serverError(): Error {
  return new InternalServiceError({ message: 'injected 500', $metadata: { httpStatusCode: 500 } });
}

/** A connection failure as the SDK's node-http-handler raises it. */
export function networkError(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
}
