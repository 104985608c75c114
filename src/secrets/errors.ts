import { type RotationRelayErrorCode, RotationRelayError } from '../common/index.js';

/**
 * The typed failures of a Secrets Manager read. Each message names the secret and says what to
 * fix (which permission to grant, which id to check); none echoes the AWS message, which can
 * quote request parameters: that stays in `cause`.
 */

/** The version a read asked for: a version id or a staging label. */
export type VersionRef = { versionId: string } | { versionStage: string };

/** Which stack policy grants an action, for "grant X (the stack's Y does)". */
const GRANTED_BY: Readonly<Record<string, string>> = {
  GetSecretValue: 'AppPolicy of infra/rotation-relay.yaml grants it to app instances',
  DescribeSecret: 'WorkerPolicy of infra/rotation-relay.yaml grants it to the worker',
};

function grantedBy(action: string): string {
  const policy = GRANTED_BY[action];
  return policy === undefined ? '' : ` (the ${policy})`;
}

function describeVersion(version: VersionRef): string {
  return 'versionId' in version ? `version ${version.versionId}` : `a version labelled ${version.versionStage}`;
}

/**
 * Secrets Manager said the secret does not exist (or is scheduled for deletion). Retrying will not
 * help; the worker alerts instead of looping. Subclasses narrow it down (a missing version, a
 * secret scheduled for deletion) and keep `instanceof SecretNotFoundError` true for callers that
 * only need to know "there is nothing to read".
 */
export class SecretNotFoundError extends RotationRelayError {
  constructor(secretId: string, options?: { cause?: unknown }, narrowed?: { code: RotationRelayErrorCode; message: string }) {
    super(
      narrowed?.code ?? 'SECRET_NOT_FOUND',
      narrowed?.message ??
        `secret ${secretId} was not found in Secrets Manager: check the secret id (a name or full ARN), the region (AWS_REGION) and the account of the credentials`,
      options,
    );
  }
}

/**
 * The secret exists, but not the version asked for: a version id AWS never issued or has since
 * deleted (deprecated versions are removed), or a staging label no version carries (AWSPENDING
 * outside a rotation). A stale or forged invalidation names such versions; the secret is fine.
 */
export class SecretVersionNotFoundError extends SecretNotFoundError {
  readonly version: VersionRef;

  constructor(secretId: string, version: VersionRef, options?: { cause?: unknown }) {
    super(secretId, options, {
      code: 'SECRET_VERSION_NOT_FOUND',
      message:
        'versionId' in version
          ? `secret ${secretId} exists but has no version ${version.versionId} (never issued, or a deprecated version Secrets Manager deleted); read AWSCURRENT instead`
          : `secret ${secretId} exists but no version carries the staging label ${version.versionStage}`,
    });
    this.version = version;
  }
}

/** The secret is scheduled for deletion: GetSecretValue refuses it until it is restored. */
export class SecretScheduledForDeletionError extends SecretNotFoundError {
  constructor(secretId: string, action: string, options?: { cause?: unknown }) {
    super(secretId, options, {
      code: 'SECRET_SCHEDULED_FOR_DELETION',
      message: `secret ${secretId} is scheduled for deletion, so ${action} refuses it: restore it (aws secretsmanager restore-secret --secret-id ${secretId}) or stop using it`,
    });
  }
}

/**
 * Secrets Manager could not tell which of the two is missing (its message did not say): the
 * secret, or the version asked for.
 */
export function secretOrVersionNotFound(secretId: string, version: VersionRef, options?: { cause?: unknown }): SecretNotFoundError {
  return new SecretNotFoundError(secretId, options, {
    code: 'SECRET_NOT_FOUND',
    message: `secret ${secretId}, or ${describeVersion(version)} of it, was not found in Secrets Manager: check the secret id, the region (AWS_REGION) and the account of the credentials`,
  });
}

/** The caller's IAM identity may not read this secret: a deployment fault, not a transient one. */
export class SecretAccessDeniedError extends RotationRelayError {
  constructor(secretId: string, action: string, options?: { cause?: unknown }, narrowed?: { code: RotationRelayErrorCode; message: string }) {
    super(
      narrowed?.code ?? 'SECRET_ACCESS_DENIED',
      narrowed?.message ??
        `not allowed to call ${action} on secret ${secretId}: grant secretsmanager:${action} on the secret's ARN to this identity${grantedBy(action)}, and check that no resource policy or SCP denies it`,
      options,
    );
  }
}

/**
 * Secrets Manager may read the secret but this identity may not use its KMS key: AWS answers
 * AccessDeniedException naming KMS ("Access to KMS is not allowed").
 */
export class SecretKmsAccessDeniedError extends SecretAccessDeniedError {
  constructor(secretId: string, action: string, options?: { cause?: unknown }) {
    super(secretId, action, options, {
      code: 'SECRET_KMS_ACCESS_DENIED',
      message: `not allowed to decrypt secret ${secretId} (${action}): grant kms:Decrypt on the secret's KMS key to this identity, in the key policy and in an IAM policy (the template's KmsKeyArn parameter adds it to AppPolicy, through Secrets Manager only)`,
    });
  }
}

/** AWS refused the credentials themselves (expired, unknown, badly signed): nothing to grant, they must be renewed. */
export class SecretCredentialsRejectedError extends SecretAccessDeniedError {
  constructor(secretId: string, action: string, reason: string, options?: { cause?: unknown }) {
    super(secretId, action, options, {
      code: 'SECRET_CREDENTIALS_REJECTED',
      message: `AWS rejected the credentials used for ${action} on secret ${secretId} (${reason}): they are expired or invalid; renew them or check AWS_PROFILE / the role this process runs as`,
    });
  }
}

/**
 * Secrets Manager could not decrypt the value with the secret's KMS key (DecryptionFailure): the
 * key is disabled, pending deletion, or not usable by this identity. Retrying does not help.
 */
export class SecretDecryptionError extends RotationRelayError {
  constructor(secretId: string, options?: { cause?: unknown }) {
    super(
      'SECRET_DECRYPTION_FAILED',
      `Secrets Manager could not decrypt secret ${secretId} with its KMS key (DecryptionFailure): check that the key is enabled and not pending deletion, and grant kms:Decrypt on it to this identity (key policy and IAM policy)`,
      options,
    );
  }
}

/** Secrets Manager refused the request itself (InvalidParameterException, InvalidRequestException): retrying sends the same. */
export class SecretRequestInvalidError extends RotationRelayError {
  constructor(secretId: string, action: string, reason: string, options?: { cause?: unknown; version?: VersionRef }) {
    const version = options?.version === undefined ? '' : `, and ${describeVersion(options.version)} asked for`;
    super(
      'SECRET_REQUEST_INVALID',
      `Secrets Manager refused ${action} for secret ${secretId} as invalid (${reason}): check that the secret id is a name or a full ARN${version}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/** What a transient failure was, for the message: the fix differs (wait, network, credentials). */
const UNAVAILABLE_HINTS: ReadonlyArray<[RegExp, string]> = [
  [/^(ThrottlingException|TooManyRequestsException|RequestLimitExceeded)$/, 'throttled by Secrets Manager; retried with backoff'],
  [/^(InternalServiceError|InternalFailure|ServiceUnavailable)$/, 'a Secrets Manager server error; retried with backoff'],
  [/^(TimeoutError|RequestTimeout|RequestTimeoutException)$/, 'the call timed out; check the network path to Secrets Manager'],
  [/^CredentialsProviderError$/, 'no AWS credentials were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run with a role'],
];

/** Throttling, 5xx, network: worth retrying later with the last good state kept. */
export class SecretsManagerUnavailableError extends RotationRelayError {
  constructor(secretId: string, action: string, options?: { cause?: unknown }) {
    super('SECRETS_MANAGER_UNAVAILABLE', `${action} for secret ${secretId} failed${unavailableDetail(options?.cause)}`, options);
  }
}

function unavailableDetail(cause: unknown): string {
  if (!(cause instanceof Error)) return '';
  const hint = UNAVAILABLE_HINTS.find(([names]) => names.test(cause.name))?.[1];
  if (hint !== undefined) return `: ${cause.name}, ${hint}`;
  const code = (cause as { code?: unknown }).code;
  // Node's socket errors (ECONNREFUSED, ENOTFOUND, ECONNRESET…) carry the code, not a name.
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return `: ${code}, Secrets Manager could not be reached; check the network, a proxy, or AWS_ENDPOINT_URL`;
  }
  return `: ${cause.name}`;
}

/** The secret has no version carrying the AWSCURRENT label (a broken rotation or a mid-way read). */
export class NoCurrentVersionError extends RotationRelayError {
  constructor(secretId: string) {
    super('SECRET_NO_CURRENT_VERSION', `secret ${secretId} has no version labelled AWSCURRENT`);
  }
}
