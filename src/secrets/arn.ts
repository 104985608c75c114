/**
 * Secrets Manager secret identities: full ARNs, partial ARNs and bare names.
 *
 * Events carry full ARNs (`…:secret:NAME-AbCdEf`) while applications usually configure names, so
 * everything that compares the two goes through this file. Partition, region and account are
 * checked loosely on purpose: the goal is to refuse ARNs of *other services* (an S3 bucket in an
 * event must never become an invalidation), not to re-implement AWS's own validation.
 */

/** The pieces of a full Secrets Manager ARN. */
export interface SecretArnParts {
  arn: string;
  partition: string;
  region: string;
  account: string;
  /** The secret's name: the resource part without the `-XXXXXX` suffix. */
  name: string;
  /** The 6 random characters Secrets Manager appends to every secret's ARN. */
  suffix: string;
}

/**
 * Characters a secret name may hold. AWS allows letters, digits and `/_+=.@-`; `!` is added
 * because secrets RDS manages for you are named `rds!db-<uuid>` / `rds!cluster-<uuid>`.
 */
const NAME_CHARS = String.raw`[A-Za-z0-9/_+=.@!\-]`;
const NAME_RE = new RegExp(`^${NAME_CHARS}{1,512}$`);

// aws-iso* covers aws-iso, aws-iso-b, aws-iso-e, aws-iso-f; the account may be the literal
// "accountid" because AWS's own published sample (rotation-succeeded.json) uses it.
const ARN_PREFIX = String.raw`arn:(?<partition>aws|aws-cn|aws-us-gov|aws-iso(?:-[a-z])?):secretsmanager:(?<region>[a-z]{2}(?:-[a-z]+)+-\d{1,2}):(?<account>\d{12}|accountid):secret:`;
const FULL_ARN_RE = new RegExp(`^${ARN_PREFIX}(?<name>${NAME_CHARS}{1,512})-(?<suffix>[A-Za-z0-9]{6})$`);
const PARTIAL_ARN_RE = new RegExp(`^${ARN_PREFIX}(?<name>${NAME_CHARS}{1,512})$`);

/** Splits a full Secrets Manager ARN into its parts; undefined for anything else. */
export function parseSecretArn(value: string): SecretArnParts | undefined {
  const groups = FULL_ARN_RE.exec(value)?.groups;
  if (!groups) return undefined;
  const { partition, region, account, name, suffix } = groups;
  if (partition === undefined || region === undefined || account === undefined || name === undefined || suffix === undefined) {
    return undefined;
  }
  return { arn: value, partition, region, account, name, suffix };
}

/** True for a full Secrets Manager ARN (with the 6-character suffix). */
export function isSecretsManagerArn(value: unknown): value is string {
  return typeof value === 'string' && FULL_ARN_RE.test(value);
}

/**
 * True for a Secrets Manager ARN without the random suffix, as a caller may pass it to the API.
 * Note the ambiguity AWS documents: a partial ARN whose name ends in `-` plus 6 characters is
 * indistinguishable from a full ARN, and is reported as full by {@link isSecretsManagerArn}.
 */
export function isPartialSecretArn(value: unknown): value is string {
  return typeof value === 'string' && !FULL_ARN_RE.test(value) && PARTIAL_ARN_RE.test(value);
}

/** True for a bare secret name (no `arn:` prefix, only characters names may hold). */
export function isSecretName(value: unknown): value is string {
  return typeof value === 'string' && !value.startsWith('arn:') && NAME_RE.test(value);
}

/** The secret's name from a full ARN (`…:secret:prod/db-AbCdEf` → `prod/db`); undefined if not one. */
export function secretNameFromArn(arn: string): string | undefined {
  return parseSecretArn(arn)?.name;
}

/** The name part of a partial ARN (`…:secret:prod/db` → `prod/db`); undefined if not one. */
function nameFromPartialArn(value: string): string | undefined {
  if (!isPartialSecretArn(value)) return undefined;
  return PARTIAL_ARN_RE.exec(value)?.groups?.['name'];
}

/**
 * The secret's name from any id the API accepts: a full ARN (suffix stripped), a partial ARN or
 * a bare name. Undefined for anything that is none of these.
 */
export function secretNameFromId(id: string): string | undefined {
  return secretNameFromArn(id) ?? nameFromPartialArn(id) ?? (isSecretName(id) ? id : undefined);
}

/** `arn:…:secret:` of a full or partial ARN, used to compare partial ARNs with full ones. */
function arnPrefix(value: string): string {
  return value.slice(0, value.indexOf(':secret:') + ':secret:'.length);
}

/**
 * Does the secret an application configured (`configuredId`) denote the secret an event named
 * (`eventId`, normally a full ARN)?
 *
 * - identical strings match;
 * - a bare name matches a full ARN whose resource part is exactly that name plus `-` and 6
 *   alphanumerics (`prod/db` matches `…:secret:prod/db-AbCdEf` but not `…:secret:prod/db-extra-AbCdEf`);
 * - a partial ARN matches a full ARN with the same prefix and name;
 * - the same rules apply the other way round, because an event may only carry the bare name or
 *   partial ARN its caller passed while the application configured the full ARN.
 */
export function secretIdMatches(configuredId: string, eventId: string): boolean {
  if (configuredId === eventId) return true;
  return matchesOneWay(configuredId, eventId) || matchesOneWay(eventId, configuredId);
}

/** `shortId` (name or partial ARN) against `fullArn`; false when `fullArn` is not a full ARN. */
function matchesOneWay(shortId: string, fullArn: string): boolean {
  const full = parseSecretArn(fullArn);
  if (!full) return false;
  if (isSecretName(shortId)) return shortId === full.name;
  const partialName = nameFromPartialArn(shortId);
  if (partialName !== undefined) {
    return partialName === full.name && arnPrefix(shortId) === arnPrefix(full.arn);
  }
  return false;
}
