import { SecretParseError } from './errors.js';

/**
 * Turns a SecretString into what `get()` returns: the string itself, or the parsed JSON when the
 * secret is configured with `json: true`. The parse error is deliberately dropped (not even kept
 * as `cause`): V8's SyntaxError message quotes the input, i.e. the secret value.
 */
export function parseSecretString(raw: string, secret: { name: string; secretId: string; json: boolean; versionId?: string }): unknown {
  if (!secret.json) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new SecretParseError(secret.name, secret.secretId, secret.versionId);
  }
}
