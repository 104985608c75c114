/**
 * Every error rotation-relay throws on purpose extends this class: a stable, machine-readable
 * `code` for callers and alerts, and the underlying error as the standard `cause`, so both
 * `instanceof RotationRelayError` and `instanceof <cause's class>` checks keep working.
 *
 * Messages never contain secret values: they name the secret, the variable or the field to fix.
 */
export class RotationRelayError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}
