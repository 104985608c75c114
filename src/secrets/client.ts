import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsConfig } from '../config/index.js';

export interface SecretsClientOptions {
  /**
   * Attempts per call, including the first, with the SDK's standard jittered backoff.
   * @defaultValue 3 (the SDK's own default)
   */
  maxAttempts?: number;
}

/**
 * The one place a Secrets Manager client is built from config. Endpoint overrides
 * (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`) and credentials come from the SDK's
 * own environment handling, so the same build runs against AWS, LocalStack or moto_server.
 */
export function createSecretsClient(aws: AwsConfig, options: SecretsClientOptions = {}): SecretsManagerClient {
  return new SecretsManagerClient({ region: aws.region, maxAttempts: options.maxAttempts ?? 3 });
}
