import { createHmac } from 'node:crypto';
import { SesSmtpPasswordError } from '../rotating/index.js';

export { SesSmtpPasswordError } from '../rotating/index.js';

/**
 * Derives the Amazon SES SMTP password of an IAM access key (the SMTP user name is the access key
 * id), with the algorithm documented in "Obtaining Amazon SES SMTP credentials" (SigV4-based,
 * version byte 0x04; the old region-less 0x02 variant is no longer accepted by SES):
 *
 *   kDate     = HMAC-SHA256("AWS4" + secretAccessKey, "11111111")
 *   kRegion   = HMAC-SHA256(kDate, region)
 *   kService  = HMAC-SHA256(kRegion, "ses")
 *   kTerminal = HMAC-SHA256(kService, "aws4_request")
 *   kMessage  = HMAC-SHA256(kTerminal, "SendRawEmail")
 *   password  = base64(0x04 ‖ kMessage)
 *
 * The password is region-specific: it only works against that region's SMTP endpoint.
 * Neither the key nor the result is ever logged or put in an error message.
 */
export function deriveSesSmtpPassword(secretAccessKey: string, region: string): string {
  if (typeof secretAccessKey !== 'string' || secretAccessKey.length === 0) {
    throw new SesSmtpPasswordError('SES SMTP password: the secret access key is empty');
  }
  assertSesRegion(region);
  let key: Buffer = hmac(Buffer.from(`AWS4${secretAccessKey}`, 'utf8'), DATE);
  for (const message of [region, SERVICE, TERMINAL, MESSAGE]) key = hmac(key, message);
  return Buffer.concat([Buffer.from([VERSION]), key]).toString('base64');
}

/**
 * A loose check of an AWS region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`,
 * `ap-southeast-5`…). SES has SMTP endpoints in most but not all regions and the list grows,
 * so an exact allow-list would go stale; this catches typos and values that are not regions at
 * all (an endpoint host name, an empty string, `"US-EAST-1"`), which would otherwise derive a
 * password SES silently rejects with 535.
 */
export function isPlausibleSesRegion(region: string): boolean {
  return typeof region === 'string' && REGION_PATTERN.test(region);
}

export function assertSesRegion(region: string): void {
  if (!isPlausibleSesRegion(region)) {
    // Quote the value only when it cannot be a swapped-in secret (a 40-character access key).
    const shown =
      typeof region !== 'string'
        ? `a ${typeof region}`
        : region.length <= 20 && /^[A-Za-z0-9 _-]*$/.test(region)
          ? JSON.stringify(region)
          : `a ${region.length}-character value`;
    throw new SesSmtpPasswordError(
      `SES SMTP password: ${shown} is not an AWS region name like "us-east-1" or "eu-west-2"; ` +
        'the SMTP password is region-specific, give the region of the SES SMTP endpoint you send to',
    );
  }
}

/** The region or key given to {@link deriveSesSmtpPassword} cannot be used. Never carries the key. */
// These constants are fixed by the SES algorithm; do not change them.
const DATE = '11111111';
const SERVICE = 'ses';
const TERMINAL = 'aws4_request';
const MESSAGE = 'SendRawEmail';
const VERSION = 0x04;

// partition prefix (us, eu, ap, ca, sa, me, af, il, mx, cn…), optional gov/iso segment, a
// direction word (east, west, central, north, south, northeast, southeast…), a number.
const REGION_PATTERN = /^[a-z]{2}(?:-(?:gov|iso|isob|isof|isoe))?-[a-z]+-\d{1,2}$/;

function hmac(key: Buffer, message: string): Buffer {
  return createHmac('sha256', key).update(message, 'utf8').digest();
}
