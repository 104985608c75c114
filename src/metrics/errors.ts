import { RotationRelayError } from '../common/index.js';

export const MetricsErrorCodes = {
  /** A hard EMF rule was broken: CloudWatch would drop the metric without a word. */
  EmfLimit: 'EMF_LIMIT',
  /** The emitter's own options are unusable (e.g. a negative flush interval). */
  InvalidOptions: 'METRICS_INVALID_OPTIONS',
} as const;

export type MetricsErrorCode = (typeof MetricsErrorCodes)[keyof typeof MetricsErrorCodes];

/** Thrown at the call that broke the rule, so the bug shows in a test, not in an empty graph. */
export class MetricsError extends RotationRelayError {
  declare readonly code: MetricsErrorCode;

  constructor(code: MetricsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
