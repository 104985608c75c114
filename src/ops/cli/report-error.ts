import { ConfigError } from '../../config/index.js';
import { describeCause, describeError, RotationRelayError } from '../../common/index.js';
import { EXIT, UsageError } from './exit-codes.js';
import type { CliIo } from './io.js';

/**
 * The one stderr line of a command that failed, and its exit code: usage and configuration
 * errors exit 2 with what to fix; our errors say what failed, their safe cause and their code;
 * anything else is unexpected and is described as every log line describes errors
 * (src/shared/error-cause.ts): a bug's message or an SDK's can quote foreign text — a request's
 * parameters, a response body — so only its safe description is printed, never the raw message.
 */
export function reportError(name: string, help: string, error: unknown, io: CliIo): number {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    io.err(`rotation-relay ${name}: ${error.message}\n\n${help.split('\n')[0]}`);
    return EXIT.usage;
  }
  if (error instanceof ConfigError) {
    io.err(`rotation-relay ${name}: configuration: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof RotationRelayError) {
    io.err(`rotation-relay ${name}: ${error.message}${causeSuffix(error)} [${error.code}]`);
    return EXIT.failure;
  }
  const err = error instanceof Error ? error : new Error('a non-Error value was thrown');
  // An AWS SDK error a command passed on (its name and HTTP status say what AWS refused).
  if ('$metadata' in err) {
    io.err(`rotation-relay ${name}: ${describeError(err)}${causeSuffix(err)}`);
    return EXIT.failure;
  }
  // Unexpected: its safe description on one line (never a stack), and where to take it.
  const text = describeError(err);
  const cause = describeCause(err);
  const suffix = cause === undefined || cause === text ? '' : ` (cause: ${cause})`;
  io.err(`rotation-relay ${name}: unexpected error: ${text}${suffix} (a bug: please report it with the command that failed)`.replace(/\s*\n\s*/g, ' '));
  return EXIT.failure;
}

/**
 * " (cause: connect ECONNREFUSED 127.0.0.1:6379)": what the chain under the error says, told
 * safely (src/shared/error-cause.ts), unless the message already says it.
 */
function causeSuffix(error: Error): string {
  const cause = describeCause(error);
  return cause === undefined || error.message.includes(cause) ? '' : ` (cause: ${cause})`;
}
