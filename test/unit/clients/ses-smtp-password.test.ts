import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SesSmtpPasswordError, deriveSesSmtpPassword, isPlausibleSesRegion } from '../../../src/sdk/mailer/ses-smtp-password.js';
import { requireBinary } from '../../support/require-binary.js';

/**
 * Published vectors of the SigV4 (0x04) SES SMTP password, from two sources independent of us:
 * - aws/aws-sdk-php, tests/Ses/SesClientTest.php, testCanGenerateSmtpPasswordV4FromCredentials
 *   (AWS's own SDK; the key is the AWS documentation's example key);
 * - hashicorp/terraform-provider-aws, internal/service/iam/access_key_test.go,
 *   TestSESSMTPPasswordFromSecretKeySigV4 (the `ses_smtp_password_v4` attribute).
 * These are public example keys, not secrets.
 */
const PUBLISHED_VECTORS: ReadonlyArray<{ source: string; key: string; region: string; password: string }> = [
  { source: 'aws-sdk-php', key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-2', password: 'BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS' },
  { source: 'terraform-provider-aws', key: 'some+secret+key', region: 'eu-central-1', password: 'BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2' },
  { source: 'terraform-provider-aws', key: 'another+secret+key', region: 'eu-central-1', password: 'BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh' },
  { source: 'terraform-provider-aws', key: 'some+secret+key', region: 'us-west-1', password: 'BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj' },
  { source: 'terraform-provider-aws', key: 'another+secret+key', region: 'us-west-1', password: 'BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF' },
];

/**
 * An independent implementation of the documented algorithm in Python 3 (hmac/hashlib/base64,
 * the language of AWS's own sample), fed the cases on stdin so no key appears on a command line.
 */
const PYTHON_DERIVE = `
import base64, hashlib, hmac, json, sys
def sign(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
out = []
for case in json.load(sys.stdin):
    sig = sign(("AWS4" + case["key"]).encode("utf-8"), "11111111")
    for part in (case["region"], "ses", "aws4_request", "SendRawEmail"):
        sig = sign(sig, part)
    out.append(base64.b64encode(bytes([0x04]) + sig).decode("ascii"))
print(json.dumps(out))
`;

function pythonDerive(cases: Array<{ key: string; region: string }>): string[] {
  const python = requireBinary('python3', 'apt-get install python3');
  const result = spawnSync(python, ['-c', PYTHON_DERIVE], { input: JSON.stringify(cases), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`python3 failed (${String(result.status)}): ${result.stderr}`);
  return JSON.parse(result.stdout) as string[];
}

describe('deriveSesSmtpPassword', () => {
  it.each(PUBLISHED_VECTORS)('matches the published vector ($source, $region)', ({ key, region, password }) => {
    // Act
    const derived = deriveSesSmtpPassword(key, region);

    // Assess
    expect(derived).toBe(password);
  });

  it('matches an independent Python implementation for many keys and regions', () => {
    // Prepare: random 40-character keys over the access-key alphabet (incl. + and /), a
    // non-ASCII key (UTF-8 encoding of "AWS4"+key must match) and every common region shape
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const randomKey = (): string => Array.from({ length: 40 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
    const regions = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2', 'ap-northeast-3', 'ca-central-1', 'sa-east-1', 'us-gov-west-1', 'il-central-1', 'me-central-1'];
    const cases = regions.flatMap((region) => [{ key: randomKey(), region }, { key: randomKey(), region }]);
    cases.push({ key: 'clé-ümlaut/€', region: 'eu-west-3' });

    // Act
    const ours = cases.map(({ key, region }) => deriveSesSmtpPassword(key, region));
    const theirs = pythonDerive(cases);

    // Assess
    expect(ours).toEqual(theirs);
  });

  it('is region-specific and starts with the version byte 0x04', () => {
    // Act
    const east = deriveSesSmtpPassword('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'us-east-1');
    const west = deriveSesSmtpPassword('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'us-west-2');

    // Assess
    expect(east).not.toBe(west);
    for (const password of [east, west]) {
      const bytes = Buffer.from(password, 'base64');
      expect(bytes).toHaveLength(33);
      expect(bytes[0]).toBe(0x04);
    }
  });

  it.each(['', 'US-EAST-1', 'us-east', 'email-smtp.us-east-1.amazonaws.com', 'us-east-1 ', 'useast1'])(
    'rejects %j as a region with an error that explains what is expected',
    (region) => {
      // Act
      const act = () => deriveSesSmtpPassword('some+secret+key', region);

      // Assess
      expect(act).toThrow(SesSmtpPasswordError);
      expect(act).toThrow(/not an AWS region name like "us-east-1"/);
    },
  );

  it('never quotes a value that could be a swapped-in secret key in its error', () => {
    // Prepare: arguments swapped by mistake: the key lands in the region parameter
    const key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

    // Act
    let message = '';
    try {
      deriveSesSmtpPassword('us-east-1', key);
    } catch (err) {
      message = (err as Error).message;
    }

    // Assess
    expect(message).toMatch(/a 40-character value/);
    expect(message).not.toContain(key);
    expect(message).not.toContain('EXAMPLEKEY');
  });

  it('rejects an empty secret access key', () => {
    expect(() => deriveSesSmtpPassword('', 'us-east-1')).toThrow(/secret access key is empty/);
  });

  it('accepts the region shapes AWS uses', () => {
    for (const region of ['us-east-1', 'eu-south-2', 'ap-southeast-5', 'us-gov-east-1', 'mx-central-1', 'cn-north-1']) {
      expect(isPlausibleSesRegion(region), region).toBe(true);
    }
  });
});
