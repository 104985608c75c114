import { z } from 'zod';
import { InvalidSecretShapeError } from '../rotating/index.js';
import { deriveSesSmtpPassword, isPlausibleSesRegion } from './ses-smtp-password.js';

/** What one SMTP login sends (`auth.user` / `auth.pass` in nodemailer). */
export interface SmtpCredentials {
  user: string;
  pass: string;
  /** `smtp`: the secret held SMTP credentials; `iam-key`: derived from an IAM access key pair. */
  kind: 'smtp' | 'iam-key';
  /** For `iam-key`: the region the password was derived for. */
  region?: string;
}

/** Where, besides the secret, the SES region may be given. */
export interface SesRegionHints {
  /** `transportOptions.sesRegion`. */
  sesRegion?: string | undefined;
  /** `transportOptions.host`: `email-smtp.<region>.amazonaws.com` names the region. */
  host?: string | undefined;
}

/**
 * Accepted secret shapes (unknown extra fields pass):
 * - `{ username, password }`: SMTP credentials as SES (or any SMTP server) issued them;
 * - `{ accessKeyId, secretAccessKey, region? }`: an IAM access key pair with `ses:SendRawEmail`;
 *   the SMTP user is the access key id and the password is derived from the secret key with the
 *   SES algorithm for the region (from the secret, `transportOptions.sesRegion` or the SES host).
 */
const smtpSchema = z.looseObject({
  username: z.string().min(1),
  password: z.string().min(1),
});

const iamSchema = z.looseObject({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  region: z.string().min(1).optional(),
});

const SHAPES =
  'SMTP credentials { "username", "password" } or an IAM access key pair ' +
  '{ "accessKeyId", "secretAccessKey", "region"? } (is the secret declared with json: true?)';

const EXPECTED: Record<string, string> = {
  username: 'a non-empty string (the SMTP user name)',
  password: 'a non-empty string (the SMTP password)',
  accessKeyId: 'a non-empty string (the IAM access key id, used as the SMTP user name)',
  secretAccessKey: 'a non-empty string (the IAM secret access key)',
  region: 'an AWS region name like "us-east-1"',
};

const SES_HOST = /^email-smtp(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/i;

/**
 * Reads a secret value as SMTP credentials, deriving the SES SMTP password for an IAM key pair.
 * Errors name the secret and the field, never a value.
 */
export function smtpCredentialsFromSecret(secretName: string, value: unknown, hints: SesRegionHints = {}): SmtpCredentials {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidSecretShapeError(secretName, undefined, SHAPES);
  }
  const record = value as Record<string, unknown>;
  const isKeyPair = 'accessKeyId' in record || 'secretAccessKey' in record;
  const parsed = isKeyPair ? iamSchema.safeParse(value) : smtpSchema.safeParse(value);
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? '');
    throw new InvalidSecretShapeError(secretName, field || undefined, EXPECTED[field] ?? SHAPES);
  }
  if (!isKeyPair) {
    const { username, password } = parsed.data as z.infer<typeof smtpSchema>;
    return { user: username, pass: password, kind: 'smtp' };
  }
  const { accessKeyId, secretAccessKey, region: secretRegion } = parsed.data as z.infer<typeof iamSchema>;
  const region = resolveSesRegion(secretName, secretRegion, hints);
  return { user: accessKeyId, pass: deriveSesSmtpPassword(secretAccessKey, region), kind: 'iam-key', region };
}

/**
 * The region to derive for: the secret's `region`, else `transportOptions.sesRegion`, else the
 * region in an SES SMTP host name. Two explicit regions that differ are a configuration error
 * (the password only works for one of them), reported before any login fails with 535.
 */
export function resolveSesRegion(secretName: string, secretRegion: string | undefined, hints: SesRegionHints): string {
  if (secretRegion !== undefined && !isPlausibleSesRegion(secretRegion)) {
    throw new InvalidSecretShapeError(secretName, 'region', EXPECTED.region ?? '');
  }
  if (secretRegion !== undefined && hints.sesRegion !== undefined && secretRegion !== hints.sesRegion) {
    throw new InvalidSecretShapeError(
      secretName,
      'region',
      `the region of transportOptions.sesRegion ("${hints.sesRegion}"), not "${secretRegion}": ` +
        'the derived SMTP password only works in one region',
    );
  }
  const region = secretRegion ?? hints.sesRegion ?? regionOfSesHost(hints.host);
  if (region === undefined) {
    throw new InvalidSecretShapeError(
      secretName,
      'region',
      'an AWS region for the IAM access key pair (or set transportOptions.sesRegion, or use an ' +
        'email-smtp.<region>.amazonaws.com host): the SES SMTP password is derived per region',
    );
  }
  return region;
}

function regionOfSesHost(host: string | undefined): string | undefined {
  return host === undefined ? undefined : SES_HOST.exec(host)?.[1]?.toLowerCase();
}
