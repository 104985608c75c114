import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsConfig } from '../config/index.js';

export interface SecretsClientOptions {
  /**
   * Attempts per call, including the first, with the SDK's standard jittered backoff.
   * @defaultValue 3 (the SDK's own default)
   */
  maxAttempts?: number;
  /**
   * How long one attempt may wait for the TCP (and TLS) connection to Secrets Manager.
   * @defaultValue undefined: the SDK's own (no connection timeout)
   */
  connectionTimeoutMs?: number;
  /**
   * How long one attempt may wait for the whole response once sent; past it the attempt fails
   * with a TimeoutError (retried like any transient error, up to `maxAttempts`).
   * @defaultValue undefined: the SDK's own (no request timeout, only a 300 s idle-socket timeout)
   */
  requestTimeoutMs?: number;
}

/**
 * Settings for every AWS SDK client we build and own (Secrets Manager, the worker's SQS).
 * `cacheMiddleware`: the SDK resolves a command's middleware stack once per client and command
 * type instead of on every call — about a fifth of the SDK's CPU per call. Safe for clients we
 * own: nothing adds middleware to them after their first call.
 */
export const SDK_CLIENT_SETTINGS = { cacheMiddleware: true } as const;

/**
 * The `requestHandler` options (NodeHttpHandler's) for the given timeouts, or undefined when none
 * is set, so a client built without them keeps the SDK's default handler untouched.
 * `throwOnRequestTimeout`: without it the SDK only logs a warning when `requestTimeout` passes
 * and keeps waiting, which bounds nothing.
 */
export function requestHandlerOptions(options: Pick<SecretsClientOptions, 'connectionTimeoutMs' | 'requestTimeoutMs'>):
  | { connectionTimeout?: number; requestTimeout?: number; throwOnRequestTimeout: true }
  | undefined {
  if (options.connectionTimeoutMs === undefined && options.requestTimeoutMs === undefined) return undefined;
  return {
    ...(options.connectionTimeoutMs !== undefined ? { connectionTimeout: options.connectionTimeoutMs } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeout: options.requestTimeoutMs } : {}),
    throwOnRequestTimeout: true,
  };
}

/**
 * The one place a Secrets Manager client is built from config. Endpoint overrides
 * (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`) and credentials come from the SDK's
 * own environment handling, so the same build runs against AWS, LocalStack or moto_server.
 */
export function createSecretsClient(aws: AwsConfig, options: SecretsClientOptions = {}): SecretsManagerClient {
  const requestHandler = requestHandlerOptions(options);
  return new SecretsManagerClient({ region: aws.region, maxAttempts: options.maxAttempts ?? 3, ...(requestHandler ? { requestHandler } : {}), ...SDK_CLIENT_SETTINGS });
}
