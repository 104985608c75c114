import type { RotationRelayErrorCode } from './error-codes.js';

/**
 * Every error rotation-relay throws on purpose extends this class: a stable, machine-readable
 * `code` for callers and alerts, and the underlying error as the standard `cause`, so both
 * `instanceof RotationRelayError` and `instanceof <cause's class>` checks keep working.
 *
 * Messages never contain secret values: they name the secret, the variable or the field to fix.
 * `code` is one of the list in src/common/error-codes.ts (catalogue: docs/errors.md).
 */
export class RotationRelayError extends Error {
  readonly code: RotationRelayErrorCode;

  constructor(code: RotationRelayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** The fields error classifiers look at, on any thrown value. */
export interface ErrorLike {
  code?: unknown;
  message?: unknown;
  responseCode?: unknown;
  cause?: unknown;
  lastNodeError?: unknown;
}

/**
 * Does `test` hold for the error or one of a few levels of its `cause` / `lastNodeError` (where
 * an ioredis Cluster wraps a node's error)? Cycle-safe by depth.
 */
export function someErrorInChain(err: unknown, test: (e: ErrorLike) => boolean, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  const e = err as ErrorLike;
  if (test(e)) return true;
  return someErrorInChain(e.cause, test, depth + 1) || someErrorInChain(e.lastNodeError, test, depth + 1);
}
