import { RotationRelayError } from '../common/index.js';

/**
 * A setting is missing or malformed. The message is one line naming the environment variable
 * and the expected form, so the process can print it and exit; it never echoes the value
 * (it could be a signing key or a password).
 */
export class ConfigError extends RotationRelayError {
  readonly variable: string;

  constructor(variable: string, expected: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', `${variable}: expected ${expected}`, options);
    this.variable = variable;
  }
}
