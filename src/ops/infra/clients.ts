import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsConfig, Env } from '../../config/index.js';
import type { InfraClients } from './observe.js';

/**
 * The EventBridge and SQS clients of `rotation-relay infra`, built from the same environment
 * variables the AWS SDK reads itself (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_EVENTBRIDGE`,
 * `AWS_ENDPOINT_URL_SQS`, `AWS_ACCESS_KEY_ID`…). They are read from the command's environment
 * rather than left to the SDK so that a CLI run in-process (tests) sees the environment it was
 * given; in a real process that environment is `process.env` and nothing differs. Without
 * static keys the SDK's default provider chain (profile, SSO, IMDS, ECS, IRSA) applies.
 */
export function createInfraClients(aws: AwsConfig, env: Env): InfraClients & { endpoint: string | undefined } {
  const eventBridgeEndpoint = endpointFor(env, 'EVENTBRIDGE');
  const sqsEndpoint = endpointFor(env, 'SQS');
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  const sessionToken = env['AWS_SESSION_TOKEN'];
  const credentials =
    accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {};
  const common = { region: aws.region, maxAttempts: 3, ...credentials };
  return {
    eventBridge: new EventBridgeClient({ ...common, ...(eventBridgeEndpoint ? { endpoint: eventBridgeEndpoint } : {}) }),
    sqs: new SQSClient({ ...common, ...(sqsEndpoint ? { endpoint: sqsEndpoint } : {}) }),
    endpoint: eventBridgeEndpoint,
  };
}

/** The service-specific endpoint variable wins over AWS_ENDPOINT_URL, as in the SDK. */
export function endpointFor(env: Env, service: 'EVENTBRIDGE' | 'SQS'): string | undefined {
  const value = env[`AWS_ENDPOINT_URL_${service}`]?.trim() || env['AWS_ENDPOINT_URL']?.trim();
  return value ? value : undefined;
}

export function destroyClients(clients: InfraClients): void {
  clients.eventBridge.destroy();
  clients.sqs.destroy();
}
