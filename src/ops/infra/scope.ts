import { parseSecretArn } from '../../secrets/index.js';
import { secretArnPrefix, type AccountContext } from './account.js';
import type { SecretFilter } from './pattern.js';

/**
 * Which secrets the rule forwards: all of them, an explicit list of ARNs, or every secret whose
 * name starts with a prefix (in this account and region).
 */
export type SecretScope =
  | { kind: 'all' }
  | { kind: 'arns'; arns: string[] }
  | { kind: 'prefix'; prefix: string };

/** Why a scope given on the command line is not usable; the CLI turns it into a usage error. */
export class ScopeError extends Error {
  override name = 'ScopeError';
}

/**
 * The `--secret-prefix` (and template `SecretNamePrefix`) that asks for every secret of the
 * account and region. It must be given: an empty scope is refused rather than read as "all",
 * so forwarding (and granting) every secret is always a decision someone wrote down.
 */
export const ALL_SECRETS = '*';

const PREFIX_RE = /^[A-Za-z0-9/_+=.@!-]{1,256}$/;

/**
 * Builds the scope from `--secret-arn` (repeatable) and `--secret-prefix`; one or the other, and
 * one of them is required (`--secret-prefix '*'` for every secret).
 */
export function parseScope(arns: readonly string[] | undefined, prefix: string | undefined): SecretScope {
  const list = [...new Set(arns ?? [])];
  if (list.length > 0 && prefix !== undefined) {
    throw new ScopeError('give --secret-arn or --secret-prefix, not both');
  }
  if (list.length > 0) {
    for (const arn of list) {
      if (!parseSecretArn(arn)) {
        throw new ScopeError(
          `--secret-arn ${JSON.stringify(arn)} is not a full Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf); for a name use --secret-prefix`,
        );
      }
    }
    return { kind: 'arns', arns: list };
  }
  if (prefix === ALL_SECRETS) return { kind: 'all' };
  if (prefix !== undefined) {
    if (!PREFIX_RE.test(prefix)) {
      throw new ScopeError(
        `--secret-prefix ${JSON.stringify(prefix)} must be 1-256 characters a secret name may hold (letters, digits, /_+=.@!-), or '${ALL_SECRETS}' for every secret`,
      );
    }
    return { kind: 'prefix', prefix };
  }
  throw new ScopeError(
    `say which secrets to forward: --secret-prefix PREFIX or --secret-arn ARN (repeatable); --secret-prefix '${ALL_SECRETS}' forwards every secret in the account and region`,
  );
}

/** The pattern filter for the scope, or undefined for all secrets (the pattern stays as in the file). */
export function scopeFilter(scope: SecretScope, ctx: AccountContext): SecretFilter | undefined {
  switch (scope.kind) {
    case 'all':
      return undefined;
    case 'arns':
      return [...scope.arns];
    case 'prefix':
      return [{ prefix: `${secretArnPrefix(ctx)}${scope.prefix}` }];
  }
}

/** Does the scope select the secret with this ARN? (What `verify` expects the rule to do.) */
export function scopeIncludes(scope: SecretScope, ctx: AccountContext, arn: string): boolean {
  switch (scope.kind) {
    case 'all':
      return true;
    case 'arns':
      return scope.arns.includes(arn);
    case 'prefix':
      return arn.startsWith(`${secretArnPrefix(ctx)}${scope.prefix}`);
  }
}

/** An ARN the scope selects, for samples rewritten to be "in scope". */
export function inScopeArn(scope: SecretScope, ctx: AccountContext): string {
  switch (scope.kind) {
    case 'arns':
      return scope.arns[0] as string;
    case 'prefix':
      return `${secretArnPrefix(ctx)}${scope.prefix}rotation-relay-verify-AbCdEf`;
    case 'all':
      return `${secretArnPrefix(ctx)}rotation-relay-verify-AbCdEf`;
  }
}

export function describeScope(scope: SecretScope): string {
  switch (scope.kind) {
    case 'all':
      return 'every secret';
    case 'arns':
      return `${scope.arns.length} secret ARN${scope.arns.length === 1 ? '' : 's'}`;
    case 'prefix':
      return `secrets named ${scope.prefix}*`;
  }
}
