import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import type { Env } from './read-env.js';
import { SETTINGS } from './settings.js';

export interface AwsConfig {
  region: string;
  /** True when an endpoint override is set (LocalStack, moto): SQS then ignores the queue URL's host. */
  customSqsEndpoint: boolean;
}

export interface RedisConfig {
  url: string;
  cluster: boolean;
  tlsCaFile?: string;
  keyPrefix: string;
  /** Secret holding the connection's rotating password (`password` or `authToken`). */
  passwordSecretId?: string;
}

export interface SigningConfig {
  /** Current key first; empty when signing is off (only with `allowUnsigned`, see {@link assertSigningChosen}). */
  keys: string[];
  maxAgeMs: number;
  /** How far ahead of this host's clock a `publishedAt` may be (ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS). */
  clockSkewToleranceMs: number;
  /** ROTATION_RELAY_ALLOW_UNSIGNED: running without keys was asked for explicitly. */
  allowUnsigned: boolean;
}

export interface WorkerConfig {
  aws: AwsConfig;
  redis: RedisConfig;
  signing: SigningConfig;
  queueUrl: string;
  batchSize: number;
  /** Receive loops on the queue in this process (each handles one batch at a time). */
  consumers: number;
  waitTimeSeconds: number;
  visibilityTimeoutSeconds: number;
  dedupeTtlSeconds: number;
  confirmWindowMs: number;
  confirmIntervalMs: number;
  /** Publish authoritative AWSCURRENT events before DescribeSecret confirms them (then confirm). */
  fastPublish: boolean;
  fastPublishMarginMs: number;
  healthPort: number;
  healthHost: string;
  shutdownTimeoutMs: number;
  metrics: boolean;
  logLevel: string;
}

/** Minimum key length in UTF-8 bytes: an HMAC-SHA256 key shorter than the hash output weakens it. */
export const MIN_SIGNING_KEY_BYTES = 32;

export function loadAwsConfig(env: Env = process.env): AwsConfig {
  const region = SETTINGS.aws.region.read(env) ?? env.AWS_DEFAULT_REGION?.trim();
  if (!region) {
    throw new ConfigError('AWS_REGION', 'an AWS region such as eu-west-1 (neither AWS_REGION nor AWS_DEFAULT_REGION is set)');
  }
  const endpoint = SETTINGS.aws.endpoint.read(env);
  const sqsEndpoint = SETTINGS.aws.sqsEndpoint.read(env);
  SETTINGS.aws.secretsManagerEndpoint.read(env);
  return { region, customSqsEndpoint: Boolean(endpoint ?? sqsEndpoint) };
}

export function loadRedisConfig(env: Env = process.env): RedisConfig {
  const url = SETTINGS.redis.url.read(env);
  const tlsCaFile = SETTINGS.redis.tlsCaFile.read(env);
  if (tlsCaFile !== undefined) checkCaFile(tlsCaFile, url);
  const passwordSecretId = SETTINGS.redis.passwordSecretId.read(env);
  return {
    url,
    cluster: SETTINGS.redis.cluster.read(env),
    keyPrefix: SETTINGS.redis.keyPrefix.read(env),
    ...(tlsCaFile ? { tlsCaFile } : {}),
    ...(passwordSecretId ? { passwordSecretId } : {}),
  };
}

/**
 * The CA file is read when the connection is built, long after start-up validation: check it
 * here, so a typo is one line naming the variable (exit 2) rather than a raw ENOENT, and a CA
 * given with a plain redis:// URL (which would silently connect without TLS) is refused.
 */
function checkCaFile(file: string, url: string): void {
  const variable = 'ROTATION_RELAY_REDIS_TLS_CA_FILE';
  if (!url.startsWith('rediss://')) {
    throw new ConfigError(variable, 'to be set only with a rediss:// ROTATION_RELAY_REDIS_URL (the URL is redis://, so the connection would not use TLS at all)');
  }
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(variable, `a readable PEM file of the CA that signed the Redis server certificate (cannot read ${file}: ${code})`, { cause: error });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(variable, `a PEM file of the CA that signed the Redis server certificate (${file} holds no "-----BEGIN CERTIFICATE-----" block)`);
  }
}

export function loadSigningConfig(env: Env = process.env): SigningConfig {
  const raw = SETTINGS.signing.keys.read(env);
  const keys = raw === undefined ? [] : raw.split(',').map((k) => k.trim());
  keys.forEach((key, index) => {
    if (Buffer.byteLength(key, 'utf8') < MIN_SIGNING_KEY_BYTES) {
      // Name the position, never the key: this line ends up in logs.
      throw new ConfigError(
        'ROTATION_RELAY_SIGNING_KEYS',
        `comma-separated keys of at least ${MIN_SIGNING_KEY_BYTES} bytes each, current key first, e.g. from \`openssl rand -base64 48\` (key ${index + 1} of ${keys.length} is ${key.length === 0 ? 'empty' : 'too short'})`,
      );
    }
  });
  return {
    keys,
    maxAgeMs: SETTINGS.signing.maxAgeSeconds.read(env) * 1000,
    clockSkewToleranceMs: SETTINGS.signing.clockSkewToleranceMs.read(env),
    allowUnsigned: SETTINGS.signing.allowUnsigned.read(env),
  };
}

/** The ways to ask for unsigned mode, as the refusal names them: the variable, and for `listen` its flag. */
const UNSIGNED_OPT_IN = 'ROTATION_RELAY_ALLOW_UNSIGNED=true';

/**
 * Signing is required: without keys, refuse unless unsigned mode was asked for. Unsigned, anyone
 * who can publish on the channel can make every instance re-read its secrets, so running that way
 * must be a decision, not the result of a variable that went missing. The error names both
 * variables and how to make a key; it is a ConfigError, so the CLI exits 2.
 * @param optIn how this command takes the opt-in, for the message @defaultValue `ROTATION_RELAY_ALLOW_UNSIGNED=true`
 */
export function assertSigningChosen(signing: SigningConfig, optIn = UNSIGNED_OPT_IN): void {
  if (signing.keys.length > 0 || signing.allowUnsigned) return;
  throw new ConfigError(
    'ROTATION_RELAY_SIGNING_KEYS',
    `comma-separated keys of at least ${MIN_SIGNING_KEY_BYTES} bytes each, current key first, the same on the worker and every subscriber; generate one with \`openssl rand -base64 48\` ` +
      `(it is not set, and signing is required; to run unsigned on purpose, set ${optIn})`,
  );
}

/** The WARN line of unsigned mode, said at start by the worker and by `listen`. */
export const UNSIGNED_WARNING =
  'signing is off (unsigned mode asked for, no ROTATION_RELAY_SIGNING_KEYS): invalidations are neither signed nor verified, so anyone who can publish on the Redis channel can make every instance re-read its secrets; set ROTATION_RELAY_SIGNING_KEYS (`openssl rand -base64 48`) on the worker and every subscriber';

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const w = SETTINGS.worker;
  const config: WorkerConfig = {
    aws: loadAwsConfig(env),
    redis: loadRedisConfig(env),
    signing: loadSigningConfig(env),
    queueUrl: w.queueUrl.read(env),
    batchSize: w.batchSize.read(env),
    consumers: w.consumers.read(env),
    waitTimeSeconds: w.waitTimeSeconds.read(env),
    visibilityTimeoutSeconds: w.visibilityTimeoutSeconds.read(env),
    dedupeTtlSeconds: w.dedupeTtlSeconds.read(env),
    confirmWindowMs: w.confirmWindowMs.read(env),
    confirmIntervalMs: w.confirmIntervalMs.read(env),
    fastPublish: w.fastPublish.read(env),
    fastPublishMarginMs: w.fastPublishMarginMs.read(env),
    healthPort: w.healthPort.read(env),
    healthHost: w.healthHost.read(env),
    shutdownTimeoutMs: w.shutdownTimeoutMs.read(env),
    metrics: w.metrics.read(env),
    logLevel: SETTINGS.logging.level.read(env),
  };
  // After every other setting, so a worker missing its queue URL hears about that first.
  assertSigningChosen(config.signing);
  return config;
}

export function loadLogLevel(env: Env = process.env): string {
  return SETTINGS.logging.level.read(env);
}
