// The AWS SDK clients of the CLI's commands: every call bounded, so no command hangs on an
// endpoint that accepts connections and never answers (a proxy, a firewall, a wrong port).
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsConfig } from '../../config/index.js';
import { RotationRelayError } from '../../common/index.js';
import { createSecretsClient, requestHandlerOptions, SDK_CLIENT_SETTINGS } from '../../secrets/index.js';

/**
 * The limits of one AWS call made by a CLI command, documented in the README's CLI section and in
 * each command's --help. A long-running process (the worker, an SDK subscriber) would rather wait
 * out a slow AWS than fail; a command someone is watching, or a deploy step, must give up and say
 * why. Secrets Manager and SQS answer these calls in well under a second.
 */
export const CLI_AWS_LIMITS = {
  /** Per attempt: the TCP (and TLS) connection. */
  connectionTimeoutMs: 3_000,
  /** Per attempt, from the moment it starts (connecting included) to the whole response. */
  requestTimeoutMs: 5_000,
  /** Attempts per call, the first included (a timeout, a reset, a 5xx or throttling is retried once). */
  maxAttempts: 2,
} as const;

/**
 * The longest one AWS call of a command takes when AWS cannot be reached: every attempt runs
 * into its request timeout (which counts the connection too), plus the SDK's backoff between
 * attempts (well under a second, not counted here).
 */
export const CLI_AWS_CALL_BOUND_MS = CLI_AWS_LIMITS.maxAttempts * CLI_AWS_LIMITS.requestTimeoutMs;

/** The sentence each AWS-using command's --help ends with. */
export const CLI_AWS_HELP = `Each AWS call gives up after ${CLI_AWS_LIMITS.connectionTimeoutMs / 1_000} s without a connection or ${CLI_AWS_LIMITS.requestTimeoutMs / 1_000} s without a whole answer and
is tried at most ${CLI_AWS_LIMITS.maxAttempts} times, so an AWS endpoint that cannot be reached, or never answers, fails
the command (exit 1) within about ${Math.round(CLI_AWS_CALL_BOUND_MS / 1_000)} s.`;

/**
 * The cause put under an SDK TimeoutError: the SDK's own message names neither the endpoint nor
 * the service, so the one CLI line could not say where the answer did not come from.
 */
export class AwsNoAnswerError extends RotationRelayError {
  constructor(service: string, endpoint: string, what: 'connection' | 'answer', ms: number) {
    super('AWS_NO_ANSWER', `${service} at ${endpoint}: no ${what} within ${ms} ms`);
  }
}

interface Annotatable {
  middlewareStack: { add(middleware: (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>, options: { step: 'finalizeRequest'; priority: 'low'; name: string }): void };
}

/**
 * Adds {@link AwsNoAnswerError} as the cause of each attempt's TimeoutError, naming the endpoint
 * as scheme, host and port (never a path or query). Low priority in finalizeRequest runs inside
 * the retry middleware, so it sees every attempt's request; the retry decision (by error name) is
 * unchanged.
 */
function nameEndpointOnTimeout<C extends object>(client: C, service: string): C {
  (client as unknown as Annotatable).middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const request = args.request as { protocol?: unknown; hostname?: unknown; port?: unknown } | undefined;
        if (error instanceof Error && error.name === 'TimeoutError' && error.cause === undefined && typeof request?.hostname === 'string') {
          const protocol = typeof request.protocol === 'string' ? request.protocol.replace(/:?$/, ':') : 'https:';
          const port = typeof request.port === 'number' ? `:${request.port}` : '';
          const connecting = /establish a connection/.test(error.message);
          const ms = connecting ? CLI_AWS_LIMITS.connectionTimeoutMs : CLI_AWS_LIMITS.requestTimeoutMs;
          Object.defineProperty(error, 'cause', { value: new AwsNoAnswerError(service, `${protocol}//${request.hostname}${port}`, connecting ? 'connection' : 'answer', ms), configurable: true });
        }
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'rotationRelayCliNameEndpointOnTimeout' },
  );
  return client;
}

/** The Secrets Manager client of a command. */
export function cliSecretsClient(aws: AwsConfig): SecretsManagerClient {
  return nameEndpointOnTimeout(createSecretsClient(aws, CLI_AWS_LIMITS), 'Secrets Manager');
}

/** The SQS client of a command (`drill` sending the rule's events to an emulated queue). */
export function cliSqsClient(aws: AwsConfig): SQSClient {
  const requestHandler = requestHandlerOptions(CLI_AWS_LIMITS);
  const client = new SQSClient({
    region: aws.region,
    // With an endpoint override (LocalStack, moto) the queue URL's host may not resolve.
    useQueueUrlAsEndpoint: !aws.customSqsEndpoint,
    maxAttempts: CLI_AWS_LIMITS.maxAttempts,
    ...(requestHandler ? { requestHandler } : {}),
    ...SDK_CLIENT_SETTINGS,
  });
  return nameEndpointOnTimeout(client, 'SQS');
}
