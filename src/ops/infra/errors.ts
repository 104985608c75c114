import { RotationRelayError } from '../../common/index.js';

export const InfraErrorCodes = {
  /** infra/event-pattern.json is missing, not JSON, or not the shape narrowing expects. */
  PatternInvalid: 'INFRA_PATTERN_INVALID',
  /** A resource with the stack's name exists but is not tagged as created by this stack. */
  NotManaged: 'INFRA_NOT_MANAGED',
  /** `verify` found no rule to verify. */
  RuleNotFound: 'INFRA_RULE_NOT_FOUND',
  /** `destroy` without `--force` found messages in a DLQ of the stack; nothing was deleted. */
  DeadLetterQueueNotEmpty: 'INFRA_DLQ_NOT_EMPTY',
  /** An AWS call failed; the message names the call and the resource. */
  AwsCallFailed: 'INFRA_AWS_CALL_FAILED',
} as const;

export type InfraErrorCode = (typeof InfraErrorCodes)[keyof typeof InfraErrorCodes];

/** Every failure of `rotation-relay infra …` that is not bad usage. Never carries secret values. */
export class InfraError extends RotationRelayError {
  constructor(code: InfraErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Runs one AWS call and turns a failure into an InfraError naming the call and the resource.
 * Only the SDK error's name and message are kept: stacks of SDK errors can quote request data.
 */
export async function awsCall<T>(operation: string, resource: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    throw new InfraError(InfraErrorCodes.AwsCallFailed, `${operation} ${resource} failed: ${err.name}: ${err.message}`, {
      cause: error,
    });
  }
}

/** The SDK error's name (`QueueDoesNotExist`, `ResourceNotFoundException`, …), or undefined. */
export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
