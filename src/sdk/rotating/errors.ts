import { RotationRelayError } from '../../common/index.js';

/**
 * The server rejected every credential a rotating client could find for a secret: the one it
 * held, a refreshed AWSCURRENT and AWSPENDING. The server's own error (pg `28P01`, MySQL `1045`,
 * Redis `WRONGPASS`, SMTP `535`, …) is the `cause`, so `err.cause.code` still tells what happened;
 * `authCode` copies that code for convenience. The message names the secret and the versions
 * tried, never a username or a password.
 */
export class CredentialsRejectedError extends RotationRelayError {
  readonly secretName: string;
  readonly versionsTried: readonly string[];
  readonly authCode: string | undefined;

  constructor(secretName: string, versionsTried: readonly string[], cause: unknown) {
    const authCode = codeOf(cause);
    super(
      'CREDENTIALS_REJECTED',
      `the server rejected the credentials of secret "${secretName}"` +
        `${authCode ? ` (${authCode})` : ''} after a refresh and the AWSPENDING fallback` +
        ` (versions tried: ${versionsTried.join(', ')})`,
      { cause },
    );
    this.secretName = secretName;
    this.versionsTried = versionsTried;
    this.authCode = authCode;
  }
}

/** The rotating client was closed; no new work is accepted. */
export class ResourceClosedError extends RotationRelayError {
  constructor(secretName: string) {
    super('RESOURCE_CLOSED', `the rotating client for secret "${secretName}" is closed`);
  }
}

/**
 * Work that was in flight on a connection an emergency revoke closed (`terminateOld`: the
 * cache's `forceRefresh(name, { terminateOld: true })` or `rotation-relay publish SECRET
 * --terminate-old`): the connection used the credentials of `versionId`, which were revoked, so
 * it was closed at once instead of after its work. The work may or may not have run on the
 * server; new work already uses the new credentials. `cause`, when present, is the client
 * library's own error for the closed connection.
 */
export class ConnectionTerminatedError extends RotationRelayError {
  readonly secretName: string;
  readonly versionId: string;

  constructor(secretName: string, versionId: string, cause?: unknown) {
    super(
      'CONNECTION_TERMINATED',
      `the rotating client for secret "${secretName}" closed this connection at once: an emergency revoke (terminateOld) retired the credentials of version ${versionId} it used; the work may not have completed, and new work uses the new credentials`,
      cause === undefined ? undefined : { cause },
    );
    this.secretName = secretName;
    this.versionId = versionId;
  }
}

/** A secret's value does not have the shape a client needs. Names the field, never a value. */
export class InvalidSecretShapeError extends RotationRelayError {
  readonly secretName: string;
  readonly field: string | undefined;

  constructor(secretName: string, field: string | undefined, expected: string) {
    super(
      'SECRET_SHAPE_INVALID',
      `secret "${secretName}"${field ? ` field "${field}"` : ''}: expected ${expected}`,
    );
    this.secretName = secretName;
    this.field = field;
  }
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  const responseCode = (err as { responseCode?: unknown }).responseCode;
  return typeof responseCode === 'number' ? String(responseCode) : undefined;
}

/**
 * The input of the SES SMTP password derivation is unusable (an empty key, a value that is not a
 * region). It lives with the other client errors, not beside the derivation, so the root entry
 * point can export it without loading the mailer (and nodemailer).
 */
export class SesSmtpPasswordError extends RotationRelayError {
  constructor(message: string) {
    super('SES_SMTP_PASSWORD_INVALID_INPUT', message);
  }
}
