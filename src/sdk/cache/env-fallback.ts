import type { SecretSpec } from './types.js';
import { EnvFallbackError } from './errors.js';
import { parseSecretString } from './parse-secret.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The version id a value read from the environment carries (it never equals a real one). */
export const ENV_FALLBACK_VERSION_ID = 'env-fallback';

/**
 * The value of `spec.envFallback`, read from `env`. Used only at cold start while Secrets Manager
 * is unreachable. A string names one variable holding the whole secret string (parsed as JSON when
 * `json`); a map builds an object field by field. Missing variables are named, all at once, so one
 * fix-and-redeploy cycle is enough; their values are never quoted.
 */
export function readEnvFallback(name: string, spec: SecretSpec, env: Env): unknown {
  const fallback = spec.envFallback;
  if (fallback === undefined) throw new EnvFallbackError(`secret "${name}" has no envFallback configured`);
  if (typeof fallback === 'string') {
    const raw = env[fallback];
    if (raw === undefined || raw === '') {
      throw new EnvFallbackError(`env fallback for secret "${name}" (secretId ${spec.secretId}) needs environment variable ${fallback}, which is not set`);
    }
    try {
      return parseSecretString(raw, { name, secretId: spec.secretId, json: spec.json ?? false });
    } catch (error) {
      throw new EnvFallbackError(`env fallback for secret "${name}": environment variable ${fallback} is not valid JSON`, { cause: error });
    }
  }
  const missing = Object.values(fallback).filter((variable) => env[variable] === undefined || env[variable] === '');
  if (missing.length > 0) {
    throw new EnvFallbackError(
      `env fallback for secret "${name}" (secretId ${spec.secretId}) needs environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, not set`,
    );
  }
  return Object.fromEntries(Object.entries(fallback).map(([field, variable]) => [field, env[variable]]));
}
