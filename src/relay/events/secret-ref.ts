import { isPartialSecretArn, isSecretName, isSecretsManagerArn, secretNameFromId } from '../../secrets/index.js';
import { describeValue } from './text.js';

/** The secret an event is about, as the result reports it. */
export interface SecretRef {
  /** A full ARN, or (only from `requestParameters.secretId`) a partial ARN or bare name. */
  secretArn: string;
  secretName: string;
}

/**
 * One place an event may name its secret, in order of preference. `arn` fields are filled by
 * AWS and must hold a full Secrets Manager ARN; `id` fields hold whatever an API caller passed
 * (full ARN, partial ARN or bare name).
 */
export interface IdCandidate {
  field: string;
  value: unknown;
  accepts: 'arn' | 'id';
}

export type RefResolution = { ok: true; ref?: SecretRef } | { ok: false; reason: string };

/**
 * Picks the secret from the candidates: the first full ARN wins; a name or partial ARN is used
 * only when no candidate holds a full ARN, since only a full ARN pins account and region.
 *
 * A candidate that is present but not a valid id fails the whole resolution instead of being
 * skipped: a Secrets Manager event naming an S3 bucket is malformed, and a malformed event goes
 * to the DLQ where someone sees it rather than being acted on with a guess. Candidates after the
 * first full ARN are not looked at: they are fallbacks, not cross-checks.
 */
export function resolveSecretRef(candidates: readonly IdCandidate[]): RefResolution {
  let fallback: SecretRef | undefined;
  for (const { field, value, accepts } of candidates) {
    if (value === undefined || value === null) continue;
    if (isSecretsManagerArn(value)) {
      return { ok: true, ref: { secretArn: value, secretName: secretNameFromId(value) ?? value } };
    }
    if (accepts === 'id' && (isPartialSecretArn(value) || isSecretName(value))) {
      fallback ??= { secretArn: value, secretName: secretNameFromId(value) ?? value };
      continue;
    }
    const expected = accepts === 'arn' ? 'a Secrets Manager secret ARN' : 'a Secrets Manager secret ARN or name';
    return { ok: false, reason: `${field} is ${describeValue(value)}, expected ${expected}` };
  }
  return fallback === undefined ? { ok: true } : { ok: true, ref: fallback };
}
