import { describe, expect, it } from 'vitest';
import { InvalidSecretShapeError } from '../../../src/sdk/rotating/errors.js';
import { createRotatingMailer, type RotatingMailerTransportOptions } from '../../../src/sdk/mailer/mailer-client.js';
import { resolveSesRegion, smtpCredentialsFromSecret } from '../../../src/sdk/mailer/mailer-credentials.js';
import { deriveSesSmtpPassword } from '../../../src/sdk/mailer/ses-smtp-password.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';

const NAME = 'ses';
const KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function shapeError(act: () => unknown): InvalidSecretShapeError {
  try {
    act();
  } catch (err) {
    if (err instanceof InvalidSecretShapeError) return err;
    throw err;
  }
  throw new Error('expected an InvalidSecretShapeError');
}

describe('smtpCredentialsFromSecret: accepted shapes', () => {
  it('reads SMTP credentials { username, password } as they are', () => {
    expect(smtpCredentialsFromSecret(NAME, { username: 'AKIAUSER', password: 'smtp-pass', extra: 1 })).toEqual({ user: 'AKIAUSER', pass: 'smtp-pass', kind: 'smtp' });
  });

  it('derives the SES SMTP password of an IAM key pair for the region in the secret', () => {
    // Act
    const creds = smtpCredentialsFromSecret(NAME, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: KEY, region: 'us-east-2' });

    // Assess: the aws-sdk-php vector (see ses-smtp-password.test.ts)
    expect(creds).toEqual({ user: 'AKIAIOSFODNN7EXAMPLE', pass: 'BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS', kind: 'iam-key', region: 'us-east-2' });
  });

  it('takes the region from transportOptions.sesRegion, then from an SES SMTP host name', () => {
    const pair = { accessKeyId: 'AKIA1', secretAccessKey: KEY };
    expect(smtpCredentialsFromSecret(NAME, pair, { sesRegion: 'eu-west-1' }).pass).toBe(deriveSesSmtpPassword(KEY, 'eu-west-1'));
    expect(smtpCredentialsFromSecret(NAME, pair, { host: 'email-smtp.ap-southeast-2.amazonaws.com' }).region).toBe('ap-southeast-2');
    expect(smtpCredentialsFromSecret(NAME, pair, { host: 'email-smtp-fips.us-gov-west-1.amazonaws.com' }).region).toBe('us-gov-west-1');
    // An explicit region wins over the host name.
    expect(smtpCredentialsFromSecret(NAME, pair, { sesRegion: 'eu-central-1', host: 'email-smtp.us-east-1.amazonaws.com' }).region).toBe('eu-central-1');
  });
});

describe('smtpCredentialsFromSecret: rejected shapes name the field, never the value', () => {
  it.each([
    ['a string', 'sekrit-string', undefined],
    ['null', null, undefined],
    ['an array', ['sekrit'], undefined],
    ['SMTP credentials without a password', { username: 'u' }, 'password'],
    ['SMTP credentials with an empty user name', { username: '', password: 'sekrit-pass' }, 'username'],
    ['a non-string password', { username: 'u', password: 12345678 }, 'password'],
    ['a key pair without the secret key', { accessKeyId: 'AKIA1' }, 'secretAccessKey'],
    ['a key pair without the key id', { secretAccessKey: 'sekrit-key', region: 'us-east-1' }, 'accessKeyId'],
    ['a key pair with a malformed region', { accessKeyId: 'AKIA1', secretAccessKey: 'sekrit-key', region: 'Frankfurt' }, 'region'],
  ])('%s', (_label, value, field) => {
    // Act
    const error = shapeError(() => smtpCredentialsFromSecret(NAME, value));

    // Assess
    expect(error.secretName).toBe(NAME);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`secret "${NAME}"`);
    expect(error.message).not.toMatch(/sekrit|12345678/);
  });

  it('requires a region for a key pair when none can be found', () => {
    const error = shapeError(() => smtpCredentialsFromSecret(NAME, { accessKeyId: 'AKIA1', secretAccessKey: 'sekrit-key' }, { host: 'smtp.example.com' }));
    expect(error.field).toBe('region');
    expect(error.message).toMatch(/transportOptions\.sesRegion/);
    expect(error.message).not.toContain('sekrit');
  });

  it('refuses a secret region that contradicts transportOptions.sesRegion', () => {
    const error = shapeError(() => resolveSesRegion(NAME, 'us-east-1', { sesRegion: 'eu-west-1' }));
    expect(error.field).toBe('region');
    expect(error.message).toMatch(/only works in one region/);
  });
});

describe('createRotatingMailer: construction (no network)', () => {
  const options: RotatingMailerTransportOptions = { host: '127.0.0.1', port: 1 };

  it('fails at creation with the field named when the current secret is malformed', () => {
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'u' });
    expect(() => createRotatingMailer(source, NAME, options)).toThrow(/secret "ses" field "password"/);
  });

  it('refuses auth and url in the transport options (credentials come from the secret)', () => {
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'u', password: 'p' });
    expect(() => createRotatingMailer(source, NAME, { ...options, auth: { user: 'x', pass: 'y' } } as RotatingMailerTransportOptions)).toThrow(/do not pass `auth`/);
    expect(() => createRotatingMailer(source, NAME, { url: 'smtp://x:y@host' } as RotatingMailerTransportOptions)).toThrow(/instead of `url`/);
  });

  it('builds a new transport on rotation, keeps the old one on a malformed version, and reports no values', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'u1', password: 'p1-sekrit' });
    const mailer = createRotatingMailer(source, NAME, { ...options, pool: true });

    // Act
    source.setCurrent({ username: 'u2', password: 'p2-sekrit' });
    source.publish();
    source.setCurrent({ username: 'u3' });
    source.publish();
    const status = mailer.status();
    await mailer.close();

    // Assess
    expect(status).toMatchObject({ secretName: NAME, versionId: 'v2', switches: 1, transportsCreated: 2, credentialKind: 'smtp' });
    expect(JSON.stringify(status)).not.toContain('sekrit');
    expect(mailer.status().transportsClosed).toBe(2);
    expect(source.listenerCount('rotated')).toBe(0);
  });
});
