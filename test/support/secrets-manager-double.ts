/**
 * A latency-modelling Secrets Manager DOUBLE for benchmarks: an HTTP server that speaks the
 * service's JSON protocol (awsJson1_1, `X-Amz-Target: secretsmanager.<Operation>`) to the real
 * AWS SDK v3 and answers GetSecretValue and DescribeSecret after a fixed delay.
 *
 * Why: moto_server answers about 300 GetSecretValue/s on this machine, so at 500 subscribers a
 * propagation benchmark against it measures the emulator's queue, not rotation-relay. In
 * production every app instance calls Secrets Manager on its own and the service does not
 * serialise them; what an instance sees is an in-region round trip (default 20 ms here). This
 * double models exactly that: a fixed delay per read and no throughput ceiling (no queue, no
 * connection limit, reads never wait for each other).
 *
 * It holds real state, so a rotation is real from the SDK's point of view: secrets with versions,
 * staging labels (AWSCURRENT, AWSPENDING, AWSPREVIOUS and custom ones) and the label moves a
 * rotation Lambda makes — CreateSecret, PutSecretValue (ClientRequestToken, VersionStages),
 * UpdateSecretVersionStage (MoveToVersionId / RemoveFromVersionId, AWSPREVIOUS follows
 * AWSCURRENT). Errors use the service's error types (ResourceNotFoundException, …).
 *
 * What it does NOT model (and the numbers it shapes): read-after-write eventual consistency
 * (reads see a label move at once), throttling (real accounts have a per-second quota on
 * GetSecretValue), network jitter (the delay is constant) and TLS (plain HTTP on loopback).
 * Writes are answered at once: only reads are on the measured path.
 *
 * Run it in-process with `startSecretsManagerDouble()`, or as its own process:
 * `tsx test/support/secrets-manager-double.ts --delay-ms 20` prints one JSON line
 * `{"type":"listening","endpoint":…}`. `GET /_double/stats` returns the call counts
 * (per operation, and GetSecretValue per secret ARN); `POST /_double/stats/reset` zeroes them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const DOUBLE_DEFAULTS = {
  /** A typical in-region round trip to Secrets Manager. */
  delayMs: 20,
  host: '127.0.0.1',
  region: 'us-east-1',
  account: '123456789012',
} as const;

export interface SecretsManagerDoubleOptions {
  /** Delay before a GetSecretValue or DescribeSecret answer. @defaultValue 20 ms */
  delayMs?: number;
  /** @defaultValue 127.0.0.1 */
  host?: string;
  /** @defaultValue 0 (an OS-assigned free port) */
  port?: number;
}

export interface DoubleStats {
  byOperation: Record<string, number>;
  /** GetSecretValue calls per secret ARN, answered or not (the SecretId as given when no secret has it). */
  getSecretValueBySecret: Record<string, number>;
}

export interface SecretsManagerDoubleHandle {
  /** `http://127.0.0.1:<port>`: pass as `endpoint` to `new SecretsManagerClient(...)`. */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The delay in force (see `setDelay`). */
  readonly delayMs: number;
  setDelay(ms: number): void;
  stats(): DoubleStats;
  resetStats(): void;
  stop(): Promise<void>;
}

interface Version {
  id: string;
  value: string;
  stages: Set<string>;
  createdAt: number;
}

interface Secret {
  arn: string;
  name: string;
  versions: Map<string, Version>;
  createdAt: number;
  lastChangedAt: number;
}

/** A service error as the SDK expects it: HTTP 400 and `__type` in the JSON body. */
class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Input = Record<string, unknown>;
type Handler = (input: Input) => Record<string, unknown>;

const DELAYED = new Set(['GetSecretValue', 'DescribeSecret']);

/** The state and operations, independent of HTTP. */
class SecretStore {
  private readonly byArn = new Map<string, Secret>();
  private readonly byName = new Map<string, Secret>();

  constructor(
    private readonly region: string,
    private readonly account: string,
  ) {}

  /** The ARN of the secret `secretId` names, if it exists. */
  arnOf(secretId: unknown): string | undefined {
    return typeof secretId === 'string' ? (this.byArn.get(secretId) ?? this.byName.get(secretId))?.arn : undefined;
  }

  find(secretId: unknown): Secret {
    if (typeof secretId !== 'string' || secretId.length === 0) throw new ServiceError('InvalidParameterException', 'SecretId is required');
    const secret = this.byArn.get(secretId) ?? this.byName.get(secretId);
    if (!secret) throw new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  }

  create(input: Input): Record<string, unknown> {
    const name = input.Name;
    if (typeof name !== 'string' || name.length === 0) throw new ServiceError('InvalidParameterException', 'Name is required');
    if (this.byName.has(name)) throw new ServiceError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    const at = Date.now();
    const arn = `arn:aws:secretsmanager:${this.region}:${this.account}:secret:${name}-${randomBytes(3).toString('hex')}`;
    const secret: Secret = { arn, name, versions: new Map(), createdAt: at, lastChangedAt: at };
    this.byArn.set(arn, secret);
    this.byName.set(name, secret);
    let versionId: string | undefined;
    if (typeof input.SecretString === 'string') {
      versionId = this.putVersion(secret, requestToken(input.ClientRequestToken), input.SecretString, ['AWSCURRENT']);
    }
    return { ARN: arn, Name: name, ...(versionId ? { VersionId: versionId } : {}) };
  }

  put(input: Input): Record<string, unknown> {
    const secret = this.find(input.SecretId);
    if (typeof input.SecretString !== 'string') throw new ServiceError('InvalidParameterException', 'SecretString is required');
    const stages = Array.isArray(input.VersionStages) ? input.VersionStages.map(String) : ['AWSCURRENT'];
    const versionId = this.putVersion(secret, requestToken(input.ClientRequestToken), input.SecretString, stages);
    return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...(secret.versions.get(versionId)?.stages ?? [])] };
  }

  updateStage(input: Input): Record<string, unknown> {
    const secret = this.find(input.SecretId);
    const stage = input.VersionStage;
    if (typeof stage !== 'string' || stage.length === 0) throw new ServiceError('InvalidParameterException', 'VersionStage is required');
    const moveTo = typeof input.MoveToVersionId === 'string' ? input.MoveToVersionId : undefined;
    const removeFrom = typeof input.RemoveFromVersionId === 'string' ? input.RemoveFromVersionId : undefined;
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
    if (moveTo !== undefined) {
      if (!secret.versions.has(moveTo)) throw new ServiceError('ResourceNotFoundException', `Version ${moveTo} not found`);
      // Like AWS: moving a label that another version holds needs RemoveFromVersionId naming it.
      if (holder && holder.id !== moveTo && holder.id !== removeFrom) {
        throw new ServiceError('InvalidParameterException', `The staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`);
      }
      this.moveStage(secret, stage, moveTo);
    } else if (removeFrom !== undefined) {
      if (stage === 'AWSCURRENT') throw new ServiceError('InvalidParameterException', 'You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.');
      secret.versions.get(removeFrom)?.stages.delete(stage);
    }
    secret.lastChangedAt = Date.now();
    return { ARN: secret.arn, Name: secret.name };
  }

  get(input: Input): Record<string, unknown> {
    const secret = this.find(input.SecretId);
    const versionId = typeof input.VersionId === 'string' ? input.VersionId : undefined;
    const stage = typeof input.VersionStage === 'string' ? input.VersionStage : versionId === undefined ? 'AWSCURRENT' : undefined;
    const version = versionId !== undefined ? secret.versions.get(versionId) : [...secret.versions.values()].find((v) => stage !== undefined && v.stages.has(stage));
    if (!version || (stage !== undefined && !version.stages.has(stage))) {
      throw new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label or version.");
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      SecretString: version.value,
      VersionStages: [...version.stages],
      CreatedDate: version.createdAt / 1000,
    };
  }

  describe(input: Input): Record<string, unknown> {
    const secret = this.find(input.SecretId);
    const versionIdsToStages: Record<string, string[]> = {};
    // AWS lists only versions that carry at least one label.
    for (const version of secret.versions.values()) if (version.stages.size > 0) versionIdsToStages[version.id] = [...version.stages];
    return {
      ARN: secret.arn,
      Name: secret.name,
      RotationEnabled: false,
      CreatedDate: secret.createdAt / 1000,
      LastChangedDate: secret.lastChangedAt / 1000,
      VersionIdsToStages: versionIdsToStages,
    };
  }

  private putVersion(secret: Secret, versionId: string, value: string, stages: string[]): string {
    const existing = secret.versions.get(versionId);
    if (existing) {
      // Idempotent retry of the same request; a different value under the same token is an error.
      if (existing.value !== value) throw new ServiceError('ResourceExistsException', `A version with ClientRequestToken ${versionId} already exists with a different value.`);
      return versionId;
    }
    secret.versions.set(versionId, { id: versionId, value, stages: new Set(), createdAt: Date.now() });
    for (const stage of stages) this.moveStage(secret, stage, versionId);
    secret.lastChangedAt = Date.now();
    return versionId;
  }

  /** Attaches `stage` to one version only; AWSCURRENT leaving a version leaves AWSPREVIOUS there. */
  private moveStage(secret: Secret, stage: string, toVersionId: string): void {
    const target = secret.versions.get(toVersionId);
    if (!target || target.stages.has(stage)) return;
    for (const version of secret.versions.values()) {
      if (!version.stages.delete(stage)) continue;
      if (stage === 'AWSCURRENT') {
        for (const other of secret.versions.values()) other.stages.delete('AWSPREVIOUS');
        version.stages.add('AWSPREVIOUS');
      }
    }
    target.stages.add(stage);
    if (stage === 'AWSCURRENT') target.stages.delete('AWSPREVIOUS');
  }
}

function requestToken(token: unknown): string {
  return typeof token === 'string' && token.length > 0 ? token : randomUUID();
}

/** Starts the double on loopback; resolves once it listens. */
export async function startSecretsManagerDouble(options: SecretsManagerDoubleOptions = {}): Promise<SecretsManagerDoubleHandle> {
  let delayMs = options.delayMs ?? DOUBLE_DEFAULTS.delayMs;
  const store = new SecretStore(DOUBLE_DEFAULTS.region, DOUBLE_DEFAULTS.account);
  let counts: DoubleStats = { byOperation: {}, getSecretValueBySecret: {} };
  const handlers: Record<string, Handler> = {
    CreateSecret: (input) => store.create(input),
    PutSecretValue: (input) => store.put(input),
    UpdateSecretVersionStage: (input) => store.updateStage(input),
    GetSecretValue: (input) => {
      // Every call counts, answered or not: a read of a missing version costs as much as any.
      const arn = store.arnOf(input.SecretId) ?? String(input.SecretId);
      counts.getSecretValueBySecret[arn] = (counts.getSecretValueBySecret[arn] ?? 0) + 1;
      return store.get(input);
    },
    DescribeSecret: (input) => store.describe(input),
  };

  const answer = (res: ServerResponse, status: number, body: Record<string, unknown>): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(text);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    if (req.url === '/_double/stats') {
      if (req.method === 'POST') counts = { byOperation: {}, getSecretValueBySecret: {} };
      answer(res, 200, counts as unknown as Record<string, unknown>);
      return;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : '';
    counts.byOperation[operation || 'unknown'] = (counts.byOperation[operation || 'unknown'] ?? 0) + 1;
    const handler = handlers[operation];
    let status = 200;
    let result: Record<string, unknown>;
    try {
      if (!handler) throw new ServiceError('UnknownOperationException', `The double does not implement ${target || 'this request'}`);
      result = handler(body.length > 0 ? (JSON.parse(body) as Input) : {});
    } catch (error) {
      const serviceError = error instanceof ServiceError ? error : new ServiceError('InternalServiceError', error instanceof Error ? error.message : String(error), 500);
      status = serviceError.status;
      result = { __type: serviceError.type, message: serviceError.message };
    }
    // The state is read on arrival; the answer leaves after the modelled round trip.
    if (DELAYED.has(operation) && delayMs > 0) setTimeout(() => answer(res, status, result), delayMs);
    else answer(res, status, result);
  };

  const server: Server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0, headersTimeout: 121_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => onRequest(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.maxHeadersCount = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? DOUBLE_DEFAULTS.host, port: options.port ?? 0, backlog: 4096 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: DOUBLE_DEFAULTS.region,
    credentials: { accessKeyId: 'double', secretAccessKey: 'double' },
    get delayMs() {
      return delayMs;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    stats: () => structuredClone(counts),
    resetStats: () => {
      counts = { byOperation: {}, getSecretValueBySecret: {} };
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

/** Reads the counts of a double running in another process. */
export async function fetchDoubleStats(endpoint: string, reset = false): Promise<DoubleStats> {
  const res = await fetch(`${endpoint}/_double/stats`, { method: reset ? 'POST' : 'GET' });
  return (await res.json()) as DoubleStats;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { 'delay-ms': { type: 'string', default: String(DOUBLE_DEFAULTS.delayMs) }, port: { type: 'string', default: '0' } } });
  const handle = await startSecretsManagerDouble({ delayMs: Number(values['delay-ms']), port: Number(values.port) });
  process.stdout.write(`${JSON.stringify({ type: 'listening', endpoint: handle.endpoint, delayMs: handle.delayMs })}\n`);
  const stop = (): void => {
    void handle.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
